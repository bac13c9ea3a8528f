//! `modelmart-e2e`: a whole local ModelMart for tests — anvil with the contracts deployed, an
//! operator registered, and its coprocessor running in-process (startable, stoppable, killable)
//! — plus the demo models compiled from the bundled fixtures.
//!
//! Test support only: it must not be a dependency of any product crate.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use alloy::{
    network::EthereumWallet,
    node_bindings::AnvilInstance,
    primitives::{Address, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
};
use modelmart_coprocessor::service::{CoprocessorArgs, Secret};
use modelmart_fhe::{CompiledModel, Dataset, onnx::import_onnx};
use modelmart_sdk::{
    Chain, Operator,
    card::{self, ModelCard},
    dev::{Deployment, ETH},
    seal::OperatorKey,
};
use modelmart_service::{ChainArgs, FollowArgs};
use tokio::{sync::oneshot, task::JoinHandle};

pub mod proxy;

/// Accounts of the stack (anvil's default keys): 0 owner/treasury, 1 operator, 2 seller, 3-4 buyers.
pub const OPERATOR: usize = 1;
/// The seller's account index.
pub const SELLER: usize = 2;
/// The first buyer's account index.
pub const BUYER: usize = 3;

/// A running local marketplace.
pub struct Stack {
    /// The chain.
    pub anvil: AnvilInstance,
    /// Contract addresses.
    pub deployment: Deployment,
    /// The coprocessor's data folder (queue, index, blobs).
    pub dir: tempfile::TempDir,
    /// The operator's endpoint.
    pub endpoint: String,
    listen: SocketAddr,
    x25519: OperatorKey,
    cp: Option<(JoinHandle<modelmart_coprocessor::Result<()>>, oneshot::Sender<()>)>,
    /// Seconds a job is leased (short, so a killed coprocessor's job is retaken quickly).
    pub lease_s: i64,
    /// Coprocessor workers.
    pub workers: usize,
    /// Queue database (default: SQLite in `dir`).
    pub queue_url: Option<String>,
    /// The JSON-RPC URL the coprocessor uses (default: anvil's; a fault proxy in tests).
    pub coprocessor_rpc: Option<String>,
}

/// The bundled fixtures folder of the FHE engine.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../sdk/fhe/fixtures")
}

/// Compile fixture model `name` (e.g. `logreg_breast_cancer`) on its training split; returns the
/// compiled model, a card (accuracy measured on the test split, FHE agreement on `fhe_rows`
/// rows) and the test split. The listing's output mode is the cheapest one whose results are
/// sanitized: full scores for a linear model, the label of a binary classifier otherwise, else
/// rounded scores.
pub fn demo_model(
    name: &str,
    data: &str,
    fhe_rows: usize,
) -> eyre::Result<(CompiledModel, ModelCard, Dataset)> {
    let linear = name.starts_with("logreg") || name.starts_with("svm") || name.starts_with("ridge");
    let mode = if linear {
        card::OutputMode::Scores
    } else if data == "breast_cancer" {
        card::OutputMode::LabelOnly
    } else {
        card::OutputMode::RoundedScores
    };
    demo_model_as(name, data, fhe_rows, mode)
}

/// [`demo_model`] listed in output mode `mode` (full scores: linear models only; label only:
/// classifiers of up to 16 classes).
pub fn demo_model_as(
    name: &str,
    data: &str,
    fhe_rows: usize,
    mode: card::OutputMode,
) -> eyre::Result<(CompiledModel, ModelCard, Dataset)> {
    let dir = fixtures();
    let model = import_onnx(&std::fs::read(dir.join(format!("models/{name}.onnx")))?)?;
    let train = Dataset::load(dir.join(format!("data/{data}_train.csv")))?;
    let test = Dataset::load(dir.join(format!("data/{data}_test.csv")))?;
    let description = format!("{name} trained on the bundled {data} data");
    let spec = card::ListingSpec {
        output_mode: mode,
        fhe_rows,
        ..card::ListingSpec::new(name, &description)
    };
    let (compiled, card) = card::prepare_listing(model, &train, &test, &spec)?;
    Ok((compiled, card, test))
}

/// One Prometheus recorder for the whole test process (the `metrics` facade has one global).
fn metrics() -> Option<metrics_exporter_prometheus::PrometheusHandle> {
    static HANDLE: std::sync::OnceLock<Option<metrics_exporter_prometheus::PrometheusHandle>> =
        std::sync::OnceLock::new();
    HANDLE
        .get_or_init(|| {
            metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder().ok()
        })
        .clone()
}

fn free_port() -> eyre::Result<SocketAddr> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

impl Stack {
    /// Start anvil (automine), deploy, register the operator (endpoint on a free local port).
    pub async fn start() -> eyre::Result<Self> {
        Self::start_with(&[], 2).await
    }

    /// As [`Stack::start`] with extra anvil arguments (e.g. `--block-time 1`) and `workers`
    /// coprocessor workers.
    pub async fn start_with(anvil_args: &[&str], workers: usize) -> eyre::Result<Self> {
        Self::start_opts(anvil_args, workers, None).await
    }

    /// As [`Stack::start_with`], with the coprocessor's queue at `queue_url` (e.g. Postgres).
    pub async fn start_opts(
        anvil_args: &[&str],
        workers: usize,
        queue_url: Option<String>,
    ) -> eyre::Result<Self> {
        let anvil = modelmart_testkit::spawn_anvil(anvil_args)?;
        let owner: PrivateKeySigner = anvil.keys()[0].clone().into();
        let provider: DynProvider = ProviderBuilder::new()
            .wallet(EthereumWallet::new(owner.clone()))
            .connect_http(anvil.endpoint_url())
            .erased();
        let deployment =
            modelmart_sdk::dev::deploy(&provider, owner.address(), owner.address()).await?;
        let listen = free_port()?;
        let endpoint = format!("http://{listen}");
        let x25519 = OperatorKey::generate();
        let mut stack = Self {
            anvil,
            deployment,
            dir: tempfile::tempdir()?,
            endpoint,
            listen,
            x25519,
            cp: None,
            lease_s: 5,
            workers,
            queue_url,
            coprocessor_rpc: None,
        };
        let op = Operator::new(stack.chain(OPERATOR).await?);
        op.register(&stack.endpoint, stack.x25519.public_bytes(), U256::from(2 * ETH)).await?;
        stack.start_coprocessor();
        stack.wait_healthy().await?;
        Ok(stack)
    }

    /// Account `i`'s signer.
    pub fn signer(&self, i: usize) -> PrivateKeySigner {
        self.anvil.keys()[i].clone().into()
    }

    /// Account `i`'s address.
    pub fn address(&self, i: usize) -> Address {
        self.signer(i).address()
    }

    /// A chain connection signing as account `i`.
    pub async fn chain(&self, i: usize) -> eyre::Result<Chain> {
        Ok(Chain::connect(&self.anvil.endpoint(), self.signer(i), self.deployment.market)
            .await?
            .with_timing(Duration::from_secs(30), Duration::from_millis(100)))
    }

    /// The coprocessor's settings.
    pub fn coprocessor_args(&self) -> CoprocessorArgs {
        let chain = ChainArgs::new(
            self.coprocessor_rpc.clone().unwrap_or_else(|| self.anvil.endpoint()),
            self.deployment.market,
            self.deployment.block,
        );
        let key = Secret(alloy::hex::encode(self.anvil.keys()[OPERATOR].to_bytes()));
        CoprocessorArgs {
            follow: FollowArgs { poll_ms: 100, ..FollowArgs::default() },
            x25519_key: Some(Secret(alloy::hex::encode(self.x25519.secret_bytes()))),
            blob_store: Some(self.dir.path().join("blobs").display().to_string()),
            queue_url: self.queue_url.clone(),
            workers: self.workers,
            lease_s: self.lease_s,
            post_margin_s: 5,
            key_cache: 2,
            receipt_timeout_s: 3,
            ..CoprocessorArgs::new(chain, key, self.dir.path(), self.listen)
        }
    }

    /// Start the coprocessor (in this process).
    pub fn start_coprocessor(&mut self) {
        let (tx, rx) = oneshot::channel();
        let args = self.coprocessor_args();
        let handle = tokio::spawn(modelmart_coprocessor::service::run(args, metrics(), async {
            let _ = rx.await;
        }));
        self.cp = Some((handle, tx));
    }

    /// Wait until the endpoint answers `/healthz`.
    pub async fn wait_healthy(&self) -> eyre::Result<()> {
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(self.listen).await.is_ok() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        eyre::bail!("coprocessor did not come up on {}", self.listen)
    }

    /// Stop the coprocessor gracefully.
    pub async fn stop_coprocessor(&mut self) -> eyre::Result<()> {
        if let Some((h, tx)) = self.cp.take() {
            let _ = tx.send(());
            h.await??;
        }
        Ok(())
    }

    /// Kill the coprocessor at once (its tasks are dropped mid-work, as in a crash).
    pub async fn kill_coprocessor(&mut self) {
        if let Some((h, _tx)) = self.cp.take() {
            h.abort();
            let _ = h.await;
        }
        // the listener is released when the aborted server task is dropped
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    /// The coprocessor queue database URL.
    pub fn queue_url(&self) -> String {
        self.queue_url
            .clone()
            .unwrap_or_else(|| format!("sqlite:{}", self.dir.path().join("queue.db").display()))
    }

    /// Settings for another coprocessor process of the same operator: its own index, folder and
    /// port, the same blob storage and queue.
    pub fn second_coprocessor_args(
        &self,
        dir: &std::path::Path,
        name: &str,
    ) -> eyre::Result<CoprocessorArgs> {
        let mut args = self.coprocessor_args();
        args.data_dir = dir.to_owned();
        args.listen.addr = free_port()?;
        args.worker_name = Some(name.to_owned());
        Ok(args)
    }
}
