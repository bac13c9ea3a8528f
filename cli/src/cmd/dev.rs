//! `modelmart dev`: a whole local marketplace from a fresh clone — anvil, the contracts and a
//! permit test token, funded demo accounts, the indexer API, a registered operator running the
//! coprocessor, and two demo models listed and accepted. Ctrl-C stops everything; `--check` runs
//! one paid inference per demo model instead and exits.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use alloy::{
    network::EthereumWallet,
    node_bindings::{Anvil, AnvilInstance},
    primitives::{Address, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
};
use modelmart_bindings::TestToken;
use modelmart_coprocessor::service::{CoprocessorArgs, Secret, load_x25519};
use modelmart_indexer::service::IndexerArgs;
use modelmart_sdk::{Buyer, BuyerKeys, Chain, ModelId, Operator, Payment, Seller, Terms, dev::ETH};
use modelmart_service::ChainArgs;
use serde_json::json;
use tokio::{sync::oneshot, task::JoinHandle};

use super::{demo, web};
use crate::output::Output;

/// Settings of the dev stack.
#[derive(Debug, clap::Args)]
pub(crate) struct DevArgs {
    /// Port of the local chain.
    #[arg(long, env = "MODELMART_RPC_PORT", default_value_t = 8545)]
    rpc_port: u16,
    /// Seconds per block.
    #[arg(long, env = "MODELMART_BLOCK_TIME", default_value_t = 1)]
    block_time: u64,
    /// Indexer API address.
    #[arg(long, env = "MODELMART_INDEXER_LISTEN", default_value = "127.0.0.1:8600")]
    indexer_listen: SocketAddr,
    /// Coprocessor (operator endpoint) address.
    #[arg(long, env = "MODELMART_COPROCESSOR_LISTEN", default_value = "127.0.0.1:8700")]
    coprocessor_listen: SocketAddr,
    /// Web dApp address.
    #[arg(long, env = "MODELMART_WEB_LISTEN", default_value = "127.0.0.1:8800")]
    web_listen: SocketAddr,
    /// The built web dApp (`make web` builds it; without it the stack runs without the page).
    #[arg(long, env = "MODELMART_WEB_DIR", default_value = "web/dist")]
    web_dir: PathBuf,
    /// State folder (wiped at start: a fresh chain needs fresh state).
    #[arg(long, env = "MODELMART_DEV_DIR", default_value = ".modelmart/dev")]
    dir: PathBuf,
    /// The anvil binary (default: the pinned npm package under contracts/, then PATH).
    #[arg(long, env = "MODELMART_ANVIL")]
    anvil: Option<PathBuf>,
    /// Set up, buy one inference per demo model as a demo buyer, check it, and exit.
    #[arg(long)]
    check: bool,
}

type Service = (JoinHandle<eyre::Result<()>>, oneshot::Sender<()>);

fn anvil_path(given: Option<PathBuf>) -> PathBuf {
    given.unwrap_or_else(|| {
        let pinned =
            PathBuf::from("contracts/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil");
        if pinned.exists() { pinned } else { PathBuf::from("anvil") }
    })
}

fn spawn<F>(f: impl FnOnce(oneshot::Receiver<()>) -> F) -> Service
where
    F: std::future::Future<Output = eyre::Result<()>> + Send + 'static,
{
    let (tx, rx) = oneshot::channel();
    (tokio::spawn(f(rx)), tx)
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

struct Stack {
    anvil: AnvilInstance,
    services: Vec<Service>,
}

/// What `up` made.
struct Setup {
    market: Address,
    demos: Vec<(ModelId, demo::Demo)>,
}

pub(crate) async fn run(a: DevArgs, out: &Output) -> eyre::Result<()> {
    let _ = std::fs::remove_dir_all(&a.dir);
    std::fs::create_dir_all(&a.dir)?;
    let step = out.step("starting the chain");
    let anvil = Anvil::at(anvil_path(a.anvil.clone()))
        .port(a.rpc_port)
        .arg("--block-time")
        .arg(a.block_time.to_string())
        .try_spawn()?;
    let mut stack = Stack { anvil, services: Vec::new() };
    let result = up(&a, &mut stack, out, &step).await;
    step.finish_and_clear();
    let result = match result {
        Ok(setup) if a.check => check(&setup, &stack, out).await,
        Ok(_) => {
            tokio::signal::ctrl_c().await?;
            Ok(())
        }
        Err(e) => Err(e),
    };
    for (handle, stop) in stack.services.drain(..) {
        let _ = stop.send(());
        let _ = handle.await;
    }
    drop(stack.anvil);
    if !a.check {
        out.result(json!({ "stopped": true }), || "stopped".into());
    }
    result
}

fn signer(anvil: &AnvilInstance, i: usize) -> PrivateKeySigner {
    anvil.keys()[i].clone().into()
}

async fn chain(stack: &Stack, i: usize, market: Address) -> eyre::Result<Chain> {
    Ok(Chain::connect(&stack.anvil.endpoint(), signer(&stack.anvil, i), market).await?)
}

async fn up(
    a: &DevArgs,
    stack: &mut Stack,
    out: &Output,
    step: &indicatif::ProgressBar,
) -> eyre::Result<Setup> {
    let owner = signer(&stack.anvil, 0);
    let provider: DynProvider = ProviderBuilder::new()
        .wallet(EthereumWallet::new(owner.clone()))
        .connect_http(stack.anvil.endpoint_url())
        .erased();
    step.set_message("deploying the contracts");
    let d = modelmart_sdk::dev::deploy(&provider, owner.address(), owner.address()).await?;
    let token = TestToken::new(d.token, provider.clone());
    for i in 3..6 {
        token
            .mint(signer(&stack.anvil, i).address(), U256::from(1_000_000_000_000u64))
            .send()
            .await?
            .get_receipt()
            .await?;
    }
    let rpc = stack.anvil.endpoint();
    let metrics = modelmart_service::install_metrics().ok();

    step.set_message("starting the indexer");
    let on_chain = ChainArgs::new(rpc.clone(), d.market, d.block);
    let indexer = IndexerArgs {
        probe_interval_s: 5,
        ..IndexerArgs::new(
            on_chain.clone(),
            format!("sqlite:{}", a.dir.join("index.db").display()),
            a.indexer_listen,
        )
    };
    let m = metrics.clone();
    stack.services.push(spawn(|rx| async move {
        Ok(modelmart_indexer::service::run(indexer, m, async {
            let _ = rx.await;
        })
        .await?)
    }));
    wait_port(a.indexer_listen, "the indexer").await?;

    step.set_message("registering the operator and starting its coprocessor");
    let cp_dir = a.dir.join("coprocessor");
    let x25519 = load_x25519(None, &cp_dir)?;
    let endpoint = format!("http://{}", a.coprocessor_listen);
    Operator::new(chain(stack, 1, d.market).await?)
        .register(&endpoint, x25519.public_bytes(), U256::from(2 * ETH))
        .await?;
    let cp = CoprocessorArgs {
        x25519_key: Some(Secret(alloy::hex::encode(x25519.secret_bytes()))),
        ..CoprocessorArgs::new(
            on_chain,
            Secret(alloy::hex::encode(stack.anvil.keys()[1].to_bytes())),
            cp_dir,
            a.coprocessor_listen,
        )
    };
    stack.services.push(spawn(|rx| async move {
        Ok(modelmart_coprocessor::service::run(cp, metrics, async {
            let _ = rx.await;
        })
        .await?)
    }));
    wait_port(a.coprocessor_listen, "the coprocessor").await?;

    step.set_message("compiling and listing the demo models");
    let seller = Seller::new(chain(stack, 2, d.market).await?)?;
    let demos = demo::demos()?;
    let mut listed = Vec::new();
    let mut ids = Vec::new();
    for (i, dm) in demos.iter().enumerate() {
        let terms = if i == 0 {
            Terms {
                operator: signer(&stack.anvil, 1).address(),
                token: Address::ZERO,
                price_per_row: ETH / 1_000,
                operator_fee_per_row: ETH / 5_000,
                max_rows: 64,
                job_deadline: 600,
            }
        } else {
            Terms {
                operator: signer(&stack.anvil, 1).address(),
                token: d.token,
                price_per_row: 500_000,
                operator_fee_per_row: 100_000,
                max_rows: 16,
                job_deadline: 600,
            }
        };
        let p = seller.publish(&dm.compiled, &dm.card, &terms).await?;
        seller.wait_accepted(p.model_id, Duration::from_secs(120)).await?;
        ids.push(p.model_id);
        listed.push((
            p.model_id,
            dm.card.name.clone(),
            if i == 0 { "0.0012 ETH/row".to_owned() } else { "0.60 mUSD/row".to_owned() },
        ));
    }
    let web_url = if web::built(&a.web_dir) {
        step.set_message("starting the web dApp");
        let config = json!({
            "chainId": stack.anvil.chain_id(), "chainName": "ModelMart dev (anvil)", "rpcUrl": rpc,
            "market": d.market.to_string(), "indexer": format!("http://{}", a.indexer_listen),
            "tokens": [
                { "address": Address::ZERO.to_string(), "symbol": "ETH", "decimals": 18 },
                { "address": d.token.to_string(), "symbol": "mUSD", "decimals": 6 },
            ],
        });
        let (listen, dir) = (a.web_listen, a.web_dir.clone());
        stack.services.push(spawn(|rx| async move {
            web::serve(listen, &dir, config, async {
                let _ = rx.await;
            })
            .await
        }));
        wait_port(a.web_listen, "the web dApp").await?;
        Some(format!("http://{}", a.web_listen))
    } else {
        tracing::warn!(target: "modelmart::cli::dev", dir = %a.web_dir.display(), "web dApp not built (`make web`); running without it");
        None
    };
    step.finish_and_clear();
    let accounts: Vec<String> =
        (0..6).map(|i| signer(&stack.anvil, i).address().to_string()).collect();
    out.result(
        json!({
            "rpc_url": rpc, "chain_id": stack.anvil.chain_id(), "market": d.market.to_string(), "token": d.token.to_string(),
            "indexer": format!("http://{}", a.indexer_listen), "coprocessor": endpoint, "web": web_url,
            "models": listed.iter().map(|(id, name, price)| json!({ "model_id": id, "name": name, "price": price })).collect::<Vec<_>>(),
            "accounts": { "owner": accounts[0], "operator": accounts[1], "seller": accounts[2], "buyers": &accounts[3..] },
        }),
        || {
            let mut s = format!(
                "ModelMart dev stack\n  web dApp     {}\n  RPC          {rpc} (chain id {})\n  ModelMarket  {}\n  mUSD token   {} (6 decimals, permit, anyone may mint)\n  indexer API  http://{}/v1/models  (OpenAPI /openapi.json, live /v1/stream)\n  coprocessor  {endpoint}  (/healthz, /metrics, /v1/blobs)\n  models\n",
                web_url.as_deref().unwrap_or("not built (make web)"), stack.anvil.chain_id(), d.market, d.token, a.indexer_listen
            );
            for (id, name, price) in &listed {
                s.push_str(&format!("    {id}  {name}  {price}\n"));
            }
            s.push_str(&format!(
                "  accounts (anvil's default mnemonic \"test test ... junk\")\n    owner/treasury {}\n    operator       {}\n    seller         {}\n    buyers         {} (10000 ETH, 1,000,000 mUSD each)\n  try: MODELMART_CONTRACT={} MODELMART_PRIVATE_KEY=<buyer key> MODELMART_PASSPHRASE=dev modelmart buyer infer --model 1 --csv {}/data/breast_cancer_test.csv --rows 2\nCtrl-C stops everything.",
                accounts[0], accounts[1], accounts[2], accounts[3..].join(", "), d.market, demo::fixtures_dir()
            ));
            s
        },
    );
    Ok(Setup { market: d.market, demos: ids.into_iter().zip(demos).collect() })
}

/// Buy one inference per demo model as the first demo buyer and compare with the clear model.
async fn check(setup: &Setup, stack: &Stack, out: &Output) -> eyre::Result<()> {
    let chain = chain(stack, 3, setup.market).await?;
    let mut buyer = Buyer::new(chain, BuyerKeys::generate(modelmart_fhe::params::ParamSetId(1))?)?;
    for (id, dm) in &setup.demos {
        let rows = &dm.test.x[..2];
        let step = out.step(&format!("buying an inference on model {id}"));
        let t = std::time::Instant::now();
        let p = buyer.infer(*id, rows, Payment::Auto).await?;
        step.finish_and_clear();
        let clear: Vec<Vec<i64>> =
            rows.iter().map(|r| dm.compiled.predict_clear(r)).collect::<Result<_, _>>()?;
        eyre::ensure!(
            p.raw == clear,
            "model {id}: decrypted {:?}, the clear model says {clear:?}",
            p.raw
        );
        out.result(
            json!({ "check": "ok", "model_id": id, "job_id": p.job_id, "labels": p.labels, "seconds": t.elapsed().as_secs_f64() }),
            || format!("model {id}: job {} -> {:?} in {:.1} s (equals the clear model)", p.job_id, p.labels.clone().unwrap_or_default(), t.elapsed().as_secs_f64()),
        );
    }
    Ok(())
}
