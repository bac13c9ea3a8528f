//! `modelmart coprocessor`: run the operator's service until SIGTERM or Ctrl-C (the same as the
//! `modelmart-coprocessor` binary; `--config` reads a TOML file).

use modelmart_coprocessor::service::CoprocessorArgs;

/// Run the coprocessor.
#[derive(Debug, clap::Args)]
pub(crate) struct CoprocessorCmd {
    #[command(flatten)]
    args: CoprocessorArgs,
    /// Serve Prometheus metrics at `/metrics`.
    #[arg(long, env = "MODELMART_METRICS", default_value_t = true)]
    metrics: bool,
}

pub(crate) async fn run(cmd: CoprocessorCmd) -> eyre::Result<()> {
    let metrics = if cmd.metrics { Some(modelmart_service::install_metrics()?) } else { None };
    modelmart_coprocessor::service::run(cmd.args, metrics, modelmart_service::shutdown_signal())
        .await?;
    Ok(())
}
