//! The chain side: a signing connection to the ModelMarket contract, transactions with decoded
//! refusals, and the marketplace facts that live only in events (a listing's hashes, a job's end).

use std::{sync::Arc, time::Duration};

use alloy::{
    contract::{CallBuilder, CallDecoder},
    network::EthereumWallet,
    primitives::{Address, B256, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::{Filter, Log, TransactionReceipt},
    signers::local::PrivateKeySigner,
    sol_types::SolEvent,
};
use modelmart_bindings::{
    IModelMarket, MarketBase, ModelMarket, ModelMarketErrors, ModelMarketInstance, TestToken,
};
use modelmart_primitives::{JobId, JobStatus, ModelId, ModelStatus};
use tokio::sync::Mutex;

use crate::{Error, Result, seal::SealContext};

const TARGET: &str = "modelmart::sdk::chain";

/// A signing connection to one deployment of the ModelMarket contract.
#[derive(Clone, Debug)]
pub struct Chain {
    provider: DynProvider,
    market: ModelMarketInstance<DynProvider>,
    account: Address,
    signer: PrivateKeySigner,
    receipt_timeout: Duration,
    poll: Duration,
    /// Serializes nonce assignment for transactions sent through this handle.
    send_lock: Arc<Mutex<()>>,
}

/// How a job ended on chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobEnd {
    /// The operator posted a result commitment.
    Completed {
        /// SHA-256 of the encrypted result blob.
        result_hash: B256,
    },
    /// The operator rejected the job (the buyer was refunded).
    Rejected {
        /// Reason code ([`crate::reasons`]).
        reason: u16,
    },
    /// The deadline passed (the buyer was refunded and the operator slashed).
    Expired,
}

pub(crate) fn rpc(e: impl std::fmt::Display) -> Error {
    Error::Rpc(e.to_string())
}

/// A contract refusal in plain words (custom errors of the market and of OpenZeppelin's ERC-20).
pub fn describe_revert(e: &alloy::contract::Error) -> Option<String> {
    use ModelMarketErrors as M;
    if let Some(m) = e.as_decoded_interface_error::<ModelMarketErrors>() {
        return Some(match m {
            M::PriceAboveMax(p) => {
                format!("price changed: {} is above your maximum {}", p.price, p.maxTotalPrice)
            }
            M::BadModelStatus(s) => format!(
                "model {} is {}",
                s.modelId,
                ModelStatus::from_code(s.status).map_or("unknown", ModelStatus::as_str)
            ),
            M::DeadlinePassed(d) => format!("deadline passed (job {}, {})", d.jobId, d.deadline),
            M::JobNotPending(j) => format!(
                "job {} is already {}",
                j.jobId,
                JobStatus::from_code(j.status).map_or("unknown", JobStatus::as_str)
            ),
            M::KeyParamsMismatch(k) => format!(
                "evaluation key is for parameter set {}, model needs {}",
                k.keyParamSet, k.modelParamSet
            ),
            M::InvalidRows(r) => format!("{} rows; the model takes 1..={}", r.rows, r.maxRows),
            M::OutsideOperatorTerms(t) => format!(
                "the listing asks less than operator {}'s terms (minimum fee per row, minimum job \
                 deadline, maximum rows per job): read them with `getOperatorTerms`",
                t.operator
            ),
            M::OperatorAtCapacity(c) => format!(
                "operator {} is at its hourly capacity ({} rows); try again next hour",
                c.operator, c.capacity
            ),
            M::InvalidListing(_) => "a listing field is out of range (rows 1 or more, a deadline \
                                     of 60 s up to the market's maximum, non-zero hashes, a known \
                                     output mode)"
                .into(),
            other => format!("{other:?}"),
        });
    }
    e.as_decoded_interface_error::<TestToken::TestTokenErrors>().map(|t| match t {
        TestToken::TestTokenErrors::ERC20InsufficientAllowance(a) => format!(
            "insufficient allowance: {} approved, {} needed (approve or use a permit)",
            a.allowance, a.needed
        ),
        TestToken::TestTokenErrors::ERC20InsufficientBalance(b) => {
            format!("insufficient token balance: {} held, {} needed", b.balance, b.needed)
        }
        other => format!("{other:?}"),
    })
}

impl Chain {
    /// Connect to `rpc_url`, signing as `signer`, to the market at `market` (checked to hold code).
    pub async fn connect(rpc_url: &str, signer: PrivateKeySigner, market: Address) -> Result<Self> {
        let url = rpc_url.parse().map_err(|e| Error::Invalid(format!("rpc url {rpc_url}: {e}")))?;
        let account = signer.address();
        // The nonce comes from the node's pending count on every send (not a per-handle cache),
        // so several handles or processes signing for one account, and dropped transactions,
        // cannot leave it stale; `send_lock` serializes sends through one handle.
        let provider = ProviderBuilder::new()
            .disable_recommended_fillers()
            .with_gas_estimation()
            .with_simple_nonce_management()
            .fetch_chain_id()
            .wallet(EthereumWallet::new(signer.clone()))
            .connect_http(url)
            .erased();
        let code = provider.get_code_at(market).await.map_err(rpc)?;
        if code.is_empty() {
            return Err(Error::Invalid(format!("no contract at {market} on {rpc_url}")));
        }
        Ok(Self {
            market: ModelMarket::new(market, provider.clone()),
            provider,
            account,
            signer,
            receipt_timeout: Duration::from_secs(60),
            poll: Duration::from_millis(200),
            send_lock: Arc::new(Mutex::new(())),
        })
    }

    /// Whom a sealed model is for: a listing on this chain and market by `seller`, served by
    /// `operator`.
    pub async fn seal_context(&self, seller: Address, operator: Address) -> Result<SealContext> {
        let chain_id = self.provider.get_chain_id().await.map_err(rpc)?;
        Ok(SealContext {
            chain_id,
            market: self.market.address().0.0,
            seller: seller.0.0,
            operator: operator.0.0,
        })
    }

    /// Wait at most `timeout` for each receipt, and poll the chain (receipts, job ends) every
    /// `poll`.
    pub fn with_timing(mut self, timeout: Duration, poll: Duration) -> Self {
        self.receipt_timeout = timeout;
        self.poll = poll;
        self.provider.client().set_poll_interval(poll);
        self
    }

    /// The signing account.
    pub fn account(&self) -> Address {
        self.account
    }

    /// Sign a 32-byte digest as [`Chain::account`] (EIP-2612 permits).
    pub(crate) fn sign_hash(&self, hash: &B256) -> Result<alloy::signers::Signature> {
        use alloy::signers::SignerSync;
        self.signer.sign_hash_sync(hash).map_err(|e| Error::Invalid(format!("signing: {e}")))
    }

    /// The contract.
    pub fn market(&self) -> &ModelMarketInstance<DynProvider> {
        &self.market
    }

    /// The provider (signing as [`Chain::account`]).
    pub fn provider(&self) -> &DynProvider {
        &self.provider
    }

    /// Send a contract call as [`Chain::account`] and wait for its receipt. A refusal (at gas
    /// estimation or on chain) is [`Error::Reverted`] with the decoded reason.
    pub async fn send<P: Provider, D: CallDecoder>(
        &self,
        call: &'static str,
        builder: CallBuilder<P, D>,
    ) -> Result<TransactionReceipt> {
        let pending = {
            let _nonce = self.send_lock.lock().await;
            builder.from(self.account).send().await.map_err(|e| match describe_revert(&e) {
                Some(reason) => Error::Reverted { call, reason },
                None if e.as_revert_data().is_some() || e.to_string().contains("revert") => {
                    Error::Reverted { call, reason: e.to_string() }
                }
                None => rpc(e),
            })?
        };
        let tx = *pending.tx_hash();
        tracing::debug!(target: TARGET, call, %tx, "sent");
        let receipt =
            pending.with_timeout(Some(self.receipt_timeout)).get_receipt().await.map_err(|e| {
                tracing::warn!(target: TARGET, call, %tx, error = %e, "no receipt");
                Error::NoReceipt {
                    call,
                    tx: tx.to_string(),
                    seconds: self.receipt_timeout.as_secs(),
                }
            })?;
        if !receipt.status() {
            return Err(Error::Reverted { call, reason: format!("transaction {tx} reverted") });
        }
        Ok(receipt)
    }

    /// Logs of `E` with topic 1 equal to `id`, from `from_block` to the head.
    async fn logs_for<E: SolEvent>(&self, id: U256, from_block: u64) -> Result<Vec<Log>> {
        let filter = Filter::new()
            .address(*self.market.address())
            .event_signature(E::SIGNATURE_HASH)
            .topic1(B256::from(id))
            .from_block(from_block);
        self.provider.get_logs(&filter).await.map_err(rpc)
    }

    /// The listing as the seller submitted it (from its `ModelListed` event).
    pub async fn listing(&self, model_id: ModelId) -> Result<IModelMarket::Listing> {
        let logs = self.logs_for::<ModelMarket::ModelListed>(model_id.to_u256(), 0).await?;
        let log = logs.first().ok_or_else(|| Error::NotFound(format!("model {model_id}")))?;
        let ev = ModelMarket::ModelListed::decode_log_data(log.data()).map_err(rpc)?;
        Ok(ev.listing)
    }

    /// The request of job `job_id` as emitted on chain, searched from `from_block` to the head
    /// (`None` if there is no such job there on the branch the node follows). Pass the block an
    /// index puts the request in, minus a reorg margin: a scan from block 0 is refused by RPC
    /// nodes that cap log ranges.
    pub async fn job_request(
        &self,
        job_id: JobId,
        from_block: u64,
    ) -> Result<Option<ModelMarket::JobRequested>> {
        let logs = self.logs_for::<ModelMarket::JobRequested>(job_id.to_u256(), from_block).await?;
        logs.last()
            .map(|l| ModelMarket::JobRequested::decode_log_data(l.data()).map_err(rpc))
            .transpose()
    }

    /// The on-chain record of job `job_id`: status, listing, rows, deadline, escrowed amounts.
    pub async fn job(&self, job_id: JobId) -> Result<MarketBase::Job> {
        self.market.getJob(job_id.to_u256()).call().await.map_err(rpc)
    }

    /// On-chain status of job `job_id`.
    pub async fn job_status(&self, job_id: JobId) -> Result<JobStatus> {
        Ok(JobStatus::from_code(self.job(job_id).await?.status)?)
    }

    /// On-chain status of listing `model_id`.
    pub async fn model_status(&self, model_id: ModelId) -> Result<ModelStatus> {
        let m = self.market.getModel(model_id.to_u256()).call().await.map_err(rpc)?;
        Ok(ModelStatus::from_code(m.status)?)
    }

    /// Timestamp of the latest block.
    pub async fn chain_time(&self) -> Result<u64> {
        Ok(self.head().await?.1)
    }

    /// Number and timestamp of the latest block.
    pub async fn head(&self) -> Result<(u64, u64)> {
        let b = self
            .provider
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
            .await
            .map_err(rpc)?
            .ok_or_else(|| Error::Rpc("no latest block".into()))?;
        Ok((b.header.number, b.header.timestamp))
    }

    /// How job `job_id` ended, if it has (looks at events from `from_block`).
    pub async fn job_end(&self, job_id: JobId, from_block: u64) -> Result<Option<JobEnd>> {
        let id = job_id.to_u256();
        if let Some(l) = self.logs_for::<ModelMarket::JobCompleted>(id, from_block).await?.first() {
            let ev = ModelMarket::JobCompleted::decode_log_data(l.data()).map_err(rpc)?;
            return Ok(Some(JobEnd::Completed { result_hash: ev.resultHash }));
        }
        if let Some(l) = self.logs_for::<ModelMarket::JobRejected>(id, from_block).await?.first() {
            let ev = ModelMarket::JobRejected::decode_log_data(l.data()).map_err(rpc)?;
            return Ok(Some(JobEnd::Rejected { reason: ev.reason }));
        }
        if !self.logs_for::<ModelMarket::JobExpired>(id, from_block).await?.is_empty() {
            return Ok(Some(JobEnd::Expired));
        }
        Ok(None)
    }

    /// Wait until job `job_id` ends, at most `timeout`.
    pub async fn wait_job(
        &self,
        job_id: JobId,
        from_block: u64,
        timeout: Duration,
    ) -> Result<JobEnd> {
        let until = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(end) = self.job_end(job_id, from_block).await? {
                return Ok(end);
            }
            if tokio::time::Instant::now() >= until {
                return Err(Error::Timeout(format!("job {job_id} still pending")));
            }
            tokio::time::sleep(self.poll).await;
        }
    }

    /// Withdraw this account's whole balance of `token` (`Address::ZERO` for the native coin);
    /// returns the amount sent.
    pub async fn withdraw(&self, token: Address) -> Result<U256> {
        let amount = self.balance(self.account, token).await?;
        if amount.is_zero() {
            return Ok(U256::ZERO);
        }
        self.send("withdraw", self.market.withdraw(token)).await?;
        Ok(amount)
    }

    /// `account`'s withdrawable balance of `token` in the market.
    pub async fn balance(&self, account: Address, token: Address) -> Result<U256> {
        self.market.balanceOf(account, token).call().await.map_err(rpc)
    }
}
