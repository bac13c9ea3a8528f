//! `modelmart coprocessor`: run the operator's service until Ctrl-C.

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
    let metrics = if cmd.metrics {
        Some(metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder()?)
    } else {
        None
    };
    modelmart_coprocessor::service::run(cmd.args, metrics, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
