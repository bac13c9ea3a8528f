//! A deployed marketplace on a fresh anvil, with named actors and one-line actions.

use alloy::{
    network::EthereumWallet,
    node_bindings::AnvilInstance,
    primitives::{Address, B256, U256, aliases::U96, keccak256},
    providers::{DynProvider, Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
};
use modelmart_bindings::{IModelMarket, ModelMarket, TestToken};

/// The deployed contracts and the actors using them.
pub(crate) struct Market {
    pub(crate) node: AnvilInstance,
    wallet: EthereumWallet,
    pub(crate) provider: DynProvider,
    pub(crate) market: ModelMarket::ModelMarketInstance<DynProvider>,
    pub(crate) usd: TestToken::TestTokenInstance<DynProvider>,
    pub(crate) deploy_block: u64,
    pub(crate) operator: Address,
    pub(crate) seller: Address,
    pub(crate) buyer: Address,
    pub(crate) treasury: Address,
}

pub(crate) const ETH: u128 = 1_000_000_000_000_000_000;

impl Market {
    /// Deploy the market and a permit token on a fresh anvil (automine, or `--block-time`).
    pub(crate) async fn deploy(anvil_args: &[&str]) -> eyre::Result<Self> {
        let node = modelmart_testkit::spawn_anvil(anvil_args)?;
        let keys: Vec<PrivateKeySigner> =
            node.keys().iter().take(6).map(|k| k.clone().into()).collect();
        let [owner, operator, seller, buyer, treasury] = [0, 1, 2, 3, 4].map(|i| keys[i].address());
        let mut wallet = EthereumWallet::new(keys[0].clone());
        for k in &keys[1..] {
            wallet.register_signer(k.clone());
        }
        let provider = ProviderBuilder::new()
            .wallet(wallet.clone())
            .connect_http(node.endpoint_url())
            .erased();
        // the same deployment as `modelmart dev` (the permit token is allowed)
        let d = modelmart_sdk::dev::deploy(&provider, owner, treasury).await?;
        let (market, usd, deploy_block) = (
            ModelMarket::new(d.market, provider.clone()),
            TestToken::new(d.token, provider.clone()),
            d.block,
        );
        Ok(Self {
            node,
            wallet,
            provider,
            market,
            usd,
            deploy_block,
            operator,
            seller,
            buyer,
            treasury,
        })
    }

    /// A fresh provider: after `evm_revert` the old one's block watcher waits for a block number
    /// it has already seen, so receipts would never arrive.
    pub(crate) fn reconnect(&mut self) {
        self.provider = ProviderBuilder::new()
            .wallet(self.wallet.clone())
            .connect_http(self.node.endpoint_url())
            .erased();
        self.market = ModelMarket::new(*self.market.address(), self.provider.clone());
        self.usd = TestToken::new(*self.usd.address(), self.provider.clone());
    }

    /// Move the chain's clock forward and mine a block.
    pub(crate) async fn warp(&self, secs: u64) -> eyre::Result<()> {
        self.provider
            .raw_request::<_, serde_json::Value>("evm_increaseTime".into(), (secs,))
            .await?;
        self.mine(1).await
    }

    /// Mine `n` empty blocks.
    pub(crate) async fn mine(&self, n: u64) -> eyre::Result<()> {
        self.provider.raw_request::<_, serde_json::Value>("anvil_mine".into(), (n,)).await?;
        Ok(())
    }

    /// Register the operator with 2 ETH of stake.
    pub(crate) async fn register_operator(&self) -> eyre::Result<()> {
        self.market
            .registerOperator("http://127.0.0.1:7070".into(), keccak256("x25519"))
            .from(self.operator)
            .value(U256::from(2 * ETH))
            .send()
            .await?
            .get_receipt()
            .await?;
        Ok(())
    }

    /// A listing by the seller, served by the operator, paid in `token`.
    pub(crate) fn listing(&self, token: Address, price: u64) -> IModelMarket::Listing {
        IModelMarket::Listing {
            operator: self.operator,
            token,
            pricePerRow: U96::from(price),
            operatorFeePerRow: U96::from(price / 5),
            cardHash: keccak256(format!("card {price}")),
            sealedModelHash: keccak256(format!("sealed {price}")),
            paramSet: 1,
            maxRows: 64,
            jobDeadline: 3600,
            outputMode: 2,
        }
    }

    /// List a model and return its id.
    pub(crate) async fn list(&self, listing: IModelMarket::Listing) -> eyre::Result<u64> {
        let r =
            self.market.listModel(listing).from(self.seller).send().await?.get_receipt().await?;
        let e = r
            .decoded_log::<ModelMarket::ModelListed>()
            .ok_or_else(|| eyre::eyre!("no ModelListed"))?;
        Ok(e.modelId.to())
    }

    /// The operator accepts a listing.
    pub(crate) async fn accept(&self, model: u64) -> eyre::Result<()> {
        self.market
            .acceptModel(U256::from(model))
            .from(self.operator)
            .send()
            .await?
            .get_receipt()
            .await?;
        Ok(())
    }

    /// The buyer registers an evaluation key.
    pub(crate) async fn register_key(&self, key: B256) -> eyre::Result<()> {
        self.market.registerKey(key, 1).from(self.buyer).send().await?.get_receipt().await?;
        Ok(())
    }

    /// The buyer requests a native-coin job of `rows` rows and returns its id.
    pub(crate) async fn request_native(
        &self,
        model: u64,
        key: B256,
        rows: u32,
        input: &str,
    ) -> eyre::Result<u64> {
        let price = self.market.quote(U256::from(model), rows).call().await?;
        let request = IModelMarket::JobRequest {
            modelId: model,
            inputHash: keccak256(input),
            keyHash: key,
            rows,
            maxTotalPrice: price,
        };
        let r = self
            .market
            .requestJob(request)
            .from(self.buyer)
            .value(price)
            .send()
            .await?
            .get_receipt()
            .await?;
        eyre::ensure!(r.status(), "requestJob reverted");
        let e = r
            .decoded_log::<ModelMarket::JobRequested>()
            .ok_or_else(|| eyre::eyre!("no JobRequested"))?;
        Ok(e.jobId.to())
    }

    /// The operator posts a result.
    pub(crate) async fn submit(&self, job: u64, result: &str) -> eyre::Result<()> {
        let r = self
            .market
            .submitResult(U256::from(job), keccak256(result))
            .from(self.operator)
            .send()
            .await?
            .get_receipt()
            .await?;
        eyre::ensure!(r.status(), "submitResult reverted");
        Ok(())
    }
}

impl Market {
    /// An operator, one accepted native-coin model, a key, and `jobs` jobs: every fifth rejected,
    /// the rest completed. Returns the model id.
    pub(crate) async fn workload(&self, jobs: usize) -> eyre::Result<u64> {
        self.register_operator().await?;
        let model = self.list(self.listing(Address::ZERO, 1_000)).await?;
        self.accept(model).await?;
        let key = keccak256("workload key");
        self.register_key(key).await?;
        self.more_jobs(model, key, 0, jobs).await?;
        Ok(model)
    }

    /// `jobs` more jobs on `model`, numbered from `first` for distinct inputs.
    pub(crate) async fn more_jobs(
        &self,
        model: u64,
        key: B256,
        first: usize,
        jobs: usize,
    ) -> eyre::Result<()> {
        for i in first..first + jobs {
            let job =
                self.request_native(model, key, 1 + (i % 7) as u32, &format!("input {i}")).await?;
            if i % 5 == 4 {
                self.market
                    .rejectJob(U256::from(job), 2)
                    .from(self.operator)
                    .send()
                    .await?
                    .get_receipt()
                    .await?;
            } else {
                self.submit(job, &format!("result {i}")).await?;
            }
        }
        Ok(())
    }
}
