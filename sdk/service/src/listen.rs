//! The listen group every service shares: the address its HTTP surface listens on and where its
//! Prometheus metrics go — on an address of their own when one is given (keep it private:
//! metrics tell queue depths, error texts and traffic), otherwise on the service's own port only
//! when that listens on loopback, never on a public API port — and [`ListenArgs::serve`], which
//! binds both and serves until told to stop.

use std::{marker::PhantomData, net::SocketAddr};

use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::{sync::watch, task::JoinHandle};

use crate::metrics_router;

/// A service's listening defaults: its own environment variable and port, so two services on
/// one host never collide by default.
pub trait ServicePort: Clone + std::fmt::Debug + Send + Sync + 'static {
    /// The environment variable that sets `--listen`.
    const ENV: &'static str;
    /// The default address.
    const DEFAULT: &'static str;
}

/// The listen flag group for service `P`.
#[derive(Clone, Debug, clap::Args)]
pub struct ListenArgs<P: ServicePort> {
    /// Address the service's HTTP surface (and `/healthz`) listens on.
    #[arg(id = "listen", long = "listen", env = P::ENV, default_value = P::DEFAULT)]
    pub addr: SocketAddr,
    /// Serve Prometheus `/metrics` on this address (and not on the service's port). Without it,
    /// `/metrics` is on the service's port only when that listens on loopback.
    #[arg(long, env = "MODELMART_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    #[arg(skip)]
    _port: PhantomData<P>,
}

/// Where a bound service listens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bound {
    /// The service's address (the real port when `:0` was asked for).
    pub addr: SocketAddr,
    /// The metrics address, when they have their own.
    pub metrics: Option<SocketAddr>,
}

impl<P: ServicePort> ListenArgs<P> {
    /// Listen on `addr`, metrics on the service port under the loopback rule.
    pub fn new(addr: SocketAddr) -> Self {
        Self { addr, metrics_listen: None, _port: PhantomData }
    }

    /// Whether `/metrics` belongs on the service's own port.
    pub fn metrics_on_service_port(&self) -> bool {
        self.metrics_listen.is_none() && self.addr.ip().is_loopback()
    }

    /// Bind the service port and, if given, `--metrics-listen`; serve `app` (with `/metrics`
    /// merged in when it belongs there) and the metrics with `TCP_NODELAY` until `stop` changes.
    /// A port that cannot be bound is an error here, before anything runs.
    pub async fn serve(
        &self,
        app: Router,
        metrics: Option<PrometheusHandle>,
        stop: watch::Receiver<bool>,
    ) -> std::io::Result<(Bound, JoinHandle<std::io::Result<()>>)> {
        let bind = |addr: SocketAddr| async move {
            tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| std::io::Error::new(e.kind(), format!("listen on {addr}: {e}")))
        };
        let listener = bind(self.addr).await?;
        let addr = listener.local_addr()?;
        let app = if self.metrics_on_service_port() {
            app.merge(metrics_router(metrics.clone()))
        } else {
            app
        };
        let metrics_addr = match self.metrics_listen {
            Some(at) => {
                let listener = bind(at).await?;
                let local = listener.local_addr()?;
                tokio::spawn(serve_until(listener, metrics_router(metrics), stop.clone()));
                tracing::info!(target: "modelmart::service", listen = %local, "metrics served");
                Some(local)
            }
            None => None,
        };
        let server = tokio::spawn(serve_until(listener, app, stop));
        Ok((Bound { addr, metrics: metrics_addr }, server))
    }
}

/// Serve `app` on `listener` with `TCP_NODELAY` (without it, Nagle's algorithm and delayed ACKs
/// add ~40 ms to small responses) until `stop` changes.
pub async fn serve_until(
    listener: tokio::net::TcpListener,
    app: Router,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = stop.changed().await;
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug)]
    struct Test;
    impl ServicePort for Test {
        const ENV: &'static str = "MODELMART_TEST_LISTEN";
        const DEFAULT: &'static str = "127.0.0.1:8999";
    }

    #[test]
    fn metrics_stay_off_a_public_port() -> Result<(), std::net::AddrParseError> {
        assert!(ListenArgs::<Test>::new("127.0.0.1:8600".parse()?).metrics_on_service_port());
        let public = ListenArgs::<Test>::new("0.0.0.0:8600".parse()?);
        assert!(!public.metrics_on_service_port(), "public API port: no metrics");
        let own = ListenArgs::<Test> {
            metrics_listen: Some("127.0.0.1:9600".parse()?),
            ..ListenArgs::new("127.0.0.1:8600".parse()?)
        };
        assert!(!own.metrics_on_service_port(), "served on their own address");
        Ok(())
    }

    #[derive(Debug, clap::Parser)]
    struct Cli {
        #[command(flatten)]
        listen: ListenArgs<Test>,
    }

    #[test]
    fn the_default_and_the_flag_come_from_the_service() -> Result<(), clap::Error> {
        use clap::Parser;
        let cli = Cli::try_parse_from(["t"])?;
        assert_eq!(cli.listen.addr.port(), 8999);
        let cli =
            Cli::try_parse_from(["t", "--listen", "0.0.0.0:1", "--metrics-listen", "127.0.0.1:2"])?;
        assert_eq!(
            (cli.listen.addr.port(), cli.listen.metrics_listen.map(|a| a.port())),
            (1, Some(2))
        );
        assert!(Cli::try_parse_from(["t", "--listen", "nowhere"]).is_err());
        Ok(())
    }

    #[tokio::test]
    async fn serves_the_app_and_metrics_apart_and_stops() -> std::io::Result<()> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let args = ListenArgs::<Test> {
            metrics_listen: Some(([127, 0, 0, 1], 0).into()),
            ..ListenArgs::new(([127, 0, 0, 1], 0).into())
        };
        let app = Router::new().route("/healthz", axum::routing::get(|| async { "up" }));
        let (tx, rx) = watch::channel(false);
        let (bound, server) = args.serve(app, None, rx).await?;
        let get = |addr: SocketAddr, path: &'static str| async move {
            let mut s = tokio::net::TcpStream::connect(addr).await?;
            s.write_all(format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes()).await?;
            let mut out = String::new();
            s.read_to_string(&mut out).await?;
            std::io::Result::Ok(out)
        };
        assert!(get(bound.addr, "/healthz").await?.ends_with("up"));
        assert!(
            get(bound.addr, "/metrics").await?.starts_with("HTTP/1.0 404"),
            "not on the app port"
        );
        let metrics = bound.metrics.ok_or_else(|| std::io::Error::other("no metrics address"))?;
        assert!(get(metrics, "/metrics").await?.contains("metrics are not served here"));
        let _ = tx.send(true);
        server.await.map_err(std::io::Error::other)??;
        Ok(())
    }
}
