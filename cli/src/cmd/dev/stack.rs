//! The processes of a dev stack: anvil with the contracts deployed and the demo accounts funded,
//! then the indexer, the operator's coprocessor and the web dApp, each started in this process
//! and stopped together.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use alloy::{
    network::EthereumWallet,
    node_bindings::{Anvil, AnvilInstance},
    primitives::{Address, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
};
use metrics_exporter_prometheus::PrometheusHandle;
use modelmart_bindings::TestToken;
use modelmart_coprocessor::service::{CoprocessorArgs, Secret, load_x25519};
use modelmart_indexer::service::IndexerArgs;
use modelmart_sdk::{Chain, Operator, dev::ETH};
use modelmart_service::ChainArgs;
use serde_json::json;
use tokio::{sync::oneshot, task::JoinHandle};

use super::DevArgs;
use crate::cmd::web;

/// The demo accounts (anvil's keys): 0 owner/treasury, 1 operator, 2 seller, 3-5 buyers.
pub(super) const OPERATOR: usize = 1;
/// The seller's account.
pub(super) const SELLER: usize = 2;
/// The first buyer's account.
pub(super) const BUYER: usize = 3;
/// mUSD minted to each buyer (6 decimals: 1,000,000 mUSD).
const MUSD_PER_BUYER: u64 = 1_000_000_000_000;

type Service = (JoinHandle<eyre::Result<()>>, oneshot::Sender<()>);

/// A running dev stack.
pub(super) struct Stack {
    anvil: AnvilInstance,
    services: Vec<Service>,
    metrics: Option<PrometheusHandle>,
    /// The market contract.
    pub(super) market: Address,
    /// The permit test token.
    pub(super) token: Address,
    /// The market's deployment block.
    block: u64,
}

fn anvil_path(given: Option<PathBuf>) -> PathBuf {
    given.unwrap_or_else(|| {
        let pinned =
            PathBuf::from("contracts/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil");
        if pinned.exists() { pinned } else { PathBuf::from("anvil") }
    })
}

async fn wait_port(addr: SocketAddr, what: &str) -> eyre::Result<()> {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eyre::bail!("{what} did not come up on {addr}")
}

impl Stack {
    /// Start anvil on `a.rpc_port`, deploy the market and the test token, mint mUSD to the
    /// buyers.
    pub(super) async fn chain(a: &DevArgs) -> eyre::Result<Self> {
        let anvil = Anvil::at(anvil_path(a.anvil.clone()))
            .port(a.rpc_port)
            .arg("--block-time")
            .arg(a.block_time.to_string())
            .try_spawn()?;
        let owner: PrivateKeySigner = anvil.keys()[0].clone().into();
        let provider: DynProvider = ProviderBuilder::new()
            .wallet(EthereumWallet::new(owner.clone()))
            .connect_http(anvil.endpoint_url())
            .erased();
        let d = modelmart_sdk::dev::deploy(&provider, owner.address(), owner.address()).await?;
        let stack = Self {
            anvil,
            services: Vec::new(),
            metrics: modelmart_service::install_metrics().ok(),
            market: d.market,
            token: d.token,
            block: d.block,
        };
        let token = TestToken::new(d.token, provider);
        for i in BUYER..BUYER + 3 {
            let to = stack.signer(i).address();
            token.mint(to, U256::from(MUSD_PER_BUYER)).send().await?.get_receipt().await?;
        }
        Ok(stack)
    }

    /// Account `i`'s key.
    pub(super) fn signer(&self, i: usize) -> PrivateKeySigner {
        self.anvil.keys()[i].clone().into()
    }

    /// The first `n` accounts' addresses.
    pub(super) fn accounts(&self, n: usize) -> Vec<String> {
        (0..n).map(|i| self.signer(i).address().to_string()).collect()
    }

    /// The chain's JSON-RPC URL.
    pub(super) fn rpc_url(&self) -> String {
        self.anvil.endpoint()
    }

    /// The chain id.
    pub(super) fn chain_id(&self) -> u64 {
        self.anvil.chain_id()
    }

    /// A connection to the market signing as account `i`.
    pub(super) async fn connect(&self, i: usize) -> eyre::Result<Chain> {
        Ok(Chain::connect(&self.rpc_url(), self.signer(i), self.market).await?)
    }

    fn on_chain(&self) -> ChainArgs {
        ChainArgs::new(self.rpc_url(), self.market, self.block)
    }

    fn spawn<F>(&mut self, f: impl FnOnce(oneshot::Receiver<()>) -> F)
    where
        F: std::future::Future<Output = eyre::Result<()>> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        self.services.push((tokio::spawn(f(rx)), tx));
    }

    /// The indexer API on `a.indexer_listen` over a SQLite index in `a.dir`.
    pub(super) async fn start_indexer(&mut self, a: &DevArgs) -> eyre::Result<()> {
        let db = format!("sqlite:{}", a.dir.join("index.db").display());
        let args = IndexerArgs {
            probe_interval_s: 5,
            // the dev stack's operator listens on 127.0.0.1
            probe_loopback: true,
            ..IndexerArgs::new(self.on_chain(), db, a.indexer_listen)
        };
        let metrics = self.metrics.clone();
        self.spawn(|stop| async move {
            Ok(modelmart_indexer::service::run(args, metrics, async {
                let _ = stop.await;
            })
            .await?)
        });
        wait_port(a.indexer_listen, "the indexer").await
    }

    /// Register the operator (endpoint `a.coprocessor_listen`, 2 ETH stake) and run its
    /// coprocessor; returns the endpoint.
    pub(super) async fn start_coprocessor(&mut self, a: &DevArgs) -> eyre::Result<String> {
        let dir = a.dir.join("coprocessor");
        let x25519 = load_x25519(None, &dir)?;
        let endpoint = format!("http://{}", a.coprocessor_listen);
        Operator::new(self.connect(OPERATOR).await?)
            .register(&endpoint, x25519.public_bytes(), U256::from(2 * ETH))
            .await?;
        let key = Secret(alloy::hex::encode(self.anvil.keys()[OPERATOR].to_bytes()));
        let args = CoprocessorArgs {
            x25519_key: Some(Secret(alloy::hex::encode(x25519.secret_bytes()))),
            ..CoprocessorArgs::new(self.on_chain(), key, dir, a.coprocessor_listen)
        };
        let metrics = self.metrics.clone();
        self.spawn(|stop| async move {
            Ok(modelmart_coprocessor::service::run(args, metrics, async {
                let _ = stop.await;
            })
            .await?)
        });
        wait_port(a.coprocessor_listen, "the coprocessor").await?;
        Ok(endpoint)
    }

    /// Serve the built web dApp on `a.web_listen` with this stack's `/config.json`; `None` when
    /// it is not built.
    pub(super) async fn start_web(&mut self, a: &DevArgs) -> eyre::Result<Option<String>> {
        if !web::built(&a.web_dir) {
            tracing::warn!(target: "modelmart::cli::dev", dir = %a.web_dir.display(), "web dApp not built (`make web`); running without it");
            return Ok(None);
        }
        let config = json!({
            "chainId": self.chain_id(), "chainName": "ModelMart dev (anvil)", "rpcUrl": self.rpc_url(),
            "market": self.market.to_string(), "indexer": format!("http://{}", a.indexer_listen),
            "tokens": [
                { "address": Address::ZERO.to_string(), "symbol": "ETH", "decimals": 18 },
                { "address": self.token.to_string(), "symbol": "mUSD", "decimals": 6 },
            ],
        });
        let (listen, dir) = (a.web_listen, a.web_dir.clone());
        self.spawn(|stop| async move {
            web::serve(listen, &dir, config, async {
                let _ = stop.await;
            })
            .await
        });
        wait_port(a.web_listen, "the web dApp").await?;
        Ok(Some(format!("http://{}", a.web_listen)))
    }

    /// Stop every service, then the chain.
    pub(super) async fn stop(mut self) {
        for (handle, stop) in self.services.drain(..) {
            let _ = stop.send(());
            let _ = handle.await;
        }
    }
}
