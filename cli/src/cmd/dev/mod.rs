//! `modelmart dev`: a whole local marketplace from a fresh clone — anvil, the contracts and a
//! permit test token, funded demo accounts, the indexer API, a registered operator running the
//! coprocessor, and two demo models listed and accepted. Ctrl-C stops everything; `--check` runs
//! one paid inference per demo model instead and exits. [`stack`] starts the processes, [`demo`]
//! compiles and lists the models, [`banner`] says where everything is.

mod banner;
pub(super) mod demo;
mod stack;

use std::{net::SocketAddr, path::PathBuf};

use modelmart_sdk::{Buyer, BuyerKeys, Payment, Seller};
use serde_json::json;

use crate::output::Output;
use demo::Listed;
use stack::Stack;

/// Settings of the dev stack.
#[derive(Debug, clap::Args)]
pub(crate) struct DevArgs {
    /// Port of the local chain.
    #[arg(long, env = "MODELMART_RPC_PORT", default_value_t = 8545)]
    pub(super) rpc_port: u16,
    /// Seconds per block.
    #[arg(long, env = "MODELMART_BLOCK_TIME", default_value_t = 1)]
    pub(super) block_time: u64,
    /// Indexer API address.
    #[arg(long, env = "MODELMART_INDEXER_LISTEN", default_value = "127.0.0.1:8600")]
    pub(super) indexer_listen: SocketAddr,
    /// Coprocessor (operator endpoint) address.
    #[arg(long, env = "MODELMART_COPROCESSOR_LISTEN", default_value = "127.0.0.1:8700")]
    pub(super) coprocessor_listen: SocketAddr,
    /// Web dApp address.
    #[arg(long, env = "MODELMART_WEB_LISTEN", default_value = "127.0.0.1:8800")]
    pub(super) web_listen: SocketAddr,
    /// The built web dApp (`make web` builds it; without it the stack runs without the page).
    #[arg(long, env = "MODELMART_WEB_DIR", default_value = "web/dist")]
    pub(super) web_dir: PathBuf,
    /// State folder (wiped at start: a fresh chain needs fresh state).
    #[arg(long, env = "MODELMART_DEV_DIR", default_value = ".modelmart/dev")]
    pub(super) dir: PathBuf,
    /// The anvil binary (default: the pinned npm package under contracts/, then PATH).
    #[arg(long, env = "MODELMART_ANVIL")]
    pub(super) anvil: Option<PathBuf>,
    /// Set up, buy one inference per demo model as a demo buyer, check it, and exit.
    #[arg(long)]
    check: bool,
    /// With `--check`: once the check passed, run this shell command against the seeded stack
    /// (it gets `MODELMART_RPC_URL`, `MODELMART_INDEXER_URL` and `MODELMART_COPROCESSOR_URL`),
    /// then stop; the check fails when the command does.
    #[arg(long, requires = "check", value_name = "COMMAND")]
    then: Option<String>,
}

/// Start the stack, then either wait for Ctrl-C (or SIGTERM) or, with `--check`, buy one
/// inference per demo model; stop everything either way.
pub(crate) async fn run(a: DevArgs, out: &Output) -> eyre::Result<()> {
    let _ = std::fs::remove_dir_all(&a.dir);
    std::fs::create_dir_all(&a.dir)?;
    let step = out.step("starting the chain and deploying the contracts");
    let mut stack = Stack::chain(&a).await?;
    let result = up(&a, &mut stack, out, &step).await;
    step.finish_and_clear();
    let result = match result {
        Ok((listed, urls)) if a.check => match check(&listed, &stack, out).await {
            Ok(()) => match &a.then {
                Some(command) => then(command, &stack, &urls).await,
                None => Ok(()),
            },
            Err(e) => Err(e),
        },
        Ok(_) => {
            modelmart_service::shutdown_signal().await;
            Ok(())
        }
        Err(e) => Err(e),
    };
    stack.stop().await;
    if !a.check {
        out.result(json!({ "stopped": true }), || "stopped".into());
    }
    result
}

/// The services, then the demo models, then the banner.
async fn up(
    a: &DevArgs,
    stack: &mut Stack,
    out: &Output,
    step: &indicatif::ProgressBar,
) -> eyre::Result<(Vec<Listed>, banner::Urls)> {
    step.set_message("starting the indexer");
    stack.start_indexer(a).await?;
    step.set_message("registering the operator and starting its coprocessor");
    let coprocessor = stack.start_coprocessor(a).await?;
    step.set_message("compiling and listing the demo models");
    let seller = Seller::new(stack.connect(stack::SELLER).await?)?;
    let operator = stack.signer(stack::OPERATOR).address();
    let listed = demo::list(&seller, operator, stack.token, demo::demos()?).await?;
    step.set_message("starting the web dApp");
    let web = stack.start_web(a).await?;
    step.finish_and_clear();
    let urls = banner::Urls { indexer: format!("http://{}", a.indexer_listen), coprocessor, web };
    banner::print(out, stack, &urls, &listed);
    Ok((listed, urls))
}

/// Run `command` with `sh -c` against the running stack; its failure is the check's.
async fn then(command: &str, stack: &Stack, urls: &banner::Urls) -> eyre::Result<()> {
    let status = tokio::process::Command::new("sh")
        .args(["-c", command])
        .env("MODELMART_RPC_URL", stack.rpc_url())
        .env("MODELMART_INDEXER_URL", &urls.indexer)
        .env("MODELMART_COPROCESSOR_URL", &urls.coprocessor)
        .status()
        .await?;
    eyre::ensure!(status.success(), "`{command}` failed against the stack: {status}");
    Ok(())
}

/// Buy one inference per demo model as the first demo buyer and compare with the clear model.
async fn check(listed: &[Listed], stack: &Stack, out: &Output) -> eyre::Result<()> {
    let chain = stack.connect(stack::BUYER).await?;
    let mut buyer = Buyer::new(chain, BuyerKeys::generate(modelmart_fhe::params::ParamSetId(1))?)?;
    for Listed { model_id: id, demo: dm, .. } in listed {
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
