//! `modelmart-indexer`: follow the ModelMart contracts into SQL and serve the marketplace API.

mod cli;

fn main() -> eyre::Result<()> {
    let cli = cli::Cli::load()?;
    cli::init_tracing(&cli);
    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder()?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(modelmart_indexer::service::run(cli.indexer, Some(metrics), async {
        let _ = tokio::signal::ctrl_c().await;
    }))?;
    Ok(())
}
