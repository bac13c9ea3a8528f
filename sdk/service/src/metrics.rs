//! Where a service's Prometheus metrics are served: on an address of their own when one is
//! given (keep it private: metrics tell queue depths, error texts and traffic), otherwise on the
//! service's own port only when that listens on loopback, never on a public API port.

use std::net::SocketAddr;

use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::metrics_router;

/// The metrics flag group.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct MetricsArgs {
    /// Serve Prometheus `/metrics` on this address (and not on the service's port). Without it,
    /// `/metrics` is on the service's port only when that listens on loopback.
    #[arg(long, env = "MODELMART_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
}

impl MetricsArgs {
    /// Whether `/metrics` belongs on the service's own port, which listens on `listen`.
    pub fn on_service_port(&self, listen: SocketAddr) -> bool {
        self.metrics_listen.is_none() && listen.ip().is_loopback()
    }

    /// The `/metrics` route to merge into the service's router on `listen` (empty when the
    /// metrics are served elsewhere or would be public).
    pub fn service_routes<S: Clone + Send + Sync + 'static>(
        &self,
        listen: SocketAddr,
        handle: Option<PrometheusHandle>,
    ) -> Router<S> {
        if self.on_service_port(listen) { metrics_router(handle) } else { Router::new() }
    }

    /// Serve `/metrics` on `--metrics-listen`, if given, until `stop` resolves; returns the
    /// address it listens on.
    pub async fn spawn(
        &self,
        handle: Option<PrometheusHandle>,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<Option<SocketAddr>> {
        let Some(addr) = self.metrics_listen else { return Ok(None) };
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        let app: Router = metrics_router(handle);
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).with_graceful_shutdown(stop).await;
        });
        tracing::info!(target: "modelmart::service", listen = %local, "metrics served");
        Ok(Some(local))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_stay_off_a_public_port() -> Result<(), std::net::AddrParseError> {
        let none = MetricsArgs::default();
        assert!(none.on_service_port("127.0.0.1:8600".parse()?));
        assert!(!none.on_service_port("0.0.0.0:8600".parse()?), "public API port: no metrics");
        let own = MetricsArgs { metrics_listen: Some("127.0.0.1:9600".parse()?) };
        assert!(!own.on_service_port("127.0.0.1:8600".parse()?), "served on their own address");
        Ok(())
    }
}
