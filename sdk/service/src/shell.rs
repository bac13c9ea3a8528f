//! What every service process does the same way: stop on SIGTERM or SIGINT, and serve its
//! Prometheus metrics.

use axum::{Router, http::StatusCode, response::IntoResponse, routing::get};
use clap::{CommandFactory, Parser};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::{
    Error, LogArgs, Result, Verbosity,
    config::{exit, parse_command_with_config},
};

/// A service binary's command line: the logging flags and the service's settings `A`.
#[derive(Debug, Parser)]
pub struct ServiceCli<A: clap::Args> {
    /// Logging.
    #[command(flatten)]
    pub log: LogArgs,
    /// The service's settings.
    #[command(flatten)]
    pub args: A,
}

/// The whole `main` of a service binary named `name`: parse flags, environment and `--config`
/// (a usage error exits 2 with clap's message), log as asked, install the Prometheus recorder,
/// and run `service(settings, metrics, shutdown)` on a multi-threaded runtime until it returns;
/// `shutdown` resolves on SIGTERM or SIGINT.
pub fn serve<A, F, Fut, E>(name: &'static str, about: &'static str, service: F) -> Result<()>
where
    A: clap::Args,
    F: FnOnce(
        A,
        Option<PrometheusHandle>,
        std::pin::Pin<Box<dyn Future<Output = ()> + Send>>,
    ) -> Fut,
    Fut: Future<Output = std::result::Result<(), E>>,
    E: std::error::Error + Send + Sync + 'static,
{
    let command = ServiceCli::<A>::command().name(name).bin_name(name).about(about);
    let cli: ServiceCli<A> =
        parse_command_with_config(command, std::env::args().collect()).unwrap_or_else(exit);
    cli.log.init_tracing(Verbosity::Service);
    let metrics = install_metrics()?;
    let runtime = tokio::runtime::Runtime::new().map_err(|e| Error::Runtime(e.to_string()))?;
    runtime
        .block_on(service(cli.args, Some(metrics), Box::pin(shutdown_signal())))
        .map_err(|e| Error::Service(Box::new(e)))
}

/// Resolves on the first SIGTERM (`docker stop`, systemd, Kubernetes) or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => tracing::info!(target: "modelmart::service", "SIGTERM: stopping"),
                    _ = tokio::signal::ctrl_c() => tracing::info!(target: "modelmart::service", "SIGINT: stopping"),
                }
                return;
            }
            Err(e) => {
                tracing::warn!(target: "modelmart::service", error = %e, "no SIGTERM handler; only Ctrl-C stops");
            }
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// Install the process's Prometheus recorder (once per process).
pub fn install_metrics() -> Result<PrometheusHandle> {
    PrometheusBuilder::new().install_recorder().map_err(|e| Error::Metrics(e.to_string()))
}

/// `GET /metrics`: the recorder's text, or 404 when metrics are off.
pub fn metrics_router<S: Clone + Send + Sync + 'static>(
    handle: Option<PrometheusHandle>,
) -> Router<S> {
    Router::new().route(
        "/metrics",
        get(move || {
            let handle = handle.clone();
            async move {
                match handle {
                    Some(h) => h.render().into_response(),
                    None => (
                        StatusCode::NOT_FOUND,
                        "metrics are not served here (see --metrics-listen)",
                    )
                        .into_response(),
                }
            }
        }),
    )
}
