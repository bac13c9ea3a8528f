//! The web dApp's server in `modelmart dev`: the built page (`web/dist`) and `/config.json`, which
//! tells the page where this stack's chain, contract, tokens and indexer are, every answer with
//! the page's Content-Security-Policy ([`csp`]).

mod csp;

use std::{net::SocketAddr, path::Path, time::Duration};

use axum::{
    Json, Router,
    extract::State,
    http::{HeaderValue, header},
    response::Response,
    routing::get,
};
use serde_json::Value;
use tower_http::services::{ServeDir, ServeFile};

pub(crate) use csp::Csp;

/// How often the operator origins in the policy are re-read from the indexer.
const CSP_REFRESH: Duration = Duration::from_secs(15);

/// Whether `dir` holds a built page.
pub(crate) fn built(dir: &Path) -> bool {
    dir.join("index.html").is_file()
}

/// The page's routes: `/config.json`, the files of `dir`, and `index.html` for any other path;
/// every answer carries `csp` and `nosniff`.
pub(crate) fn router(dir: &Path, config: Value, csp: Csp) -> Router {
    let files = ServeDir::new(dir).fallback(ServeFile::new(dir.join("index.html")));
    Router::new()
        .route("/config.json", get(move || async move { Json(config) }))
        .fallback_service(files)
        .layer(axum::middleware::map_response_with_state(csp, with_policy))
}

async fn with_policy(State(csp): State<Csp>, mut res: Response) -> Response {
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&csp.header()) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    res
}

/// The policy for the page configured by `config` (its `rpcUrl` and `indexer`), with the active
/// operators' origins read from the indexer once now and then every 15 s until `stop`.
async fn policy(config: &Value, stop: tokio::sync::watch::Receiver<bool>) -> Csp {
    let text = |k: &str| config.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
    let (rpc, indexer) = (text("rpcUrl"), text("indexer"));
    let csp = Csp::new([rpc.as_str(), indexer.as_str()]);
    let client =
        reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap_or_default();
    if let Err(e) = csp.refresh(&client, &indexer).await {
        tracing::warn!(target: "modelmart::cli::web", error = %e, "operator origins not read yet");
    }
    let (live, mut stop) = (csp.clone(), stop);
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = stop.changed() => return,
                () = tokio::time::sleep(CSP_REFRESH) => {}
            }
            if let Err(e) = live.refresh(&client, &indexer).await {
                tracing::warn!(target: "modelmart::cli::web", error = %e, "operator origins not refreshed");
            }
        }
    });
    csp
}

/// Serve `dir` and `config` on `listen` until `shutdown` resolves.
pub(crate) async fn serve(
    listen: SocketAddr,
    dir: &Path,
    config: Value,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> eyre::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let csp = policy(&config, stop_rx).await;
    axum::serve(listener, router(dir, config, csp)).with_graceful_shutdown(shutdown).await?;
    let _ = stop_tx.send(true);
    Ok(())
}

#[cfg(test)]
mod tests {
    use axum::{body::Body, http::Request};
    use tower::ServiceExt;

    use super::*;

    async fn get(app: &Router, path: &str) -> (u16, String, String) {
        let res =
            app.clone().oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
        let status = res.status().as_u16();
        let ctype = res
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let body = axum::body::to_bytes(res.into_body(), 1 << 20).await.unwrap();
        (status, ctype, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn serves_the_page_its_assets_and_its_config() {
        let dir = std::env::temp_dir().join(format!("modelmart-web-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("assets")).unwrap();
        std::fs::write(dir.join("index.html"), "<!doctype html><title>t</title>").unwrap();
        std::fs::write(dir.join("assets/a.wasm"), b"\0asm").unwrap();
        assert!(built(&dir));
        let app = router(&dir, serde_json::json!({ "chainId": 31337 }), Csp::new(["http://x:1"]));

        let (status, ctype, body) = get(&app, "/config.json").await;
        assert_eq!((status, ctype.as_str()), (200, "application/json"));
        assert!(body.contains("31337"), "{body}");
        let (status, ctype, _) = get(&app, "/assets/a.wasm").await;
        assert_eq!(
            (status, ctype.as_str()),
            (200, "application/wasm"),
            "wasm streams only with its type"
        );
        let res =
            app.clone().oneshot(Request::get("/").body(Body::empty()).unwrap()).await.unwrap();
        let policy = res.headers().get("content-security-policy").unwrap().to_str().unwrap();
        assert!(policy.contains("connect-src 'self' http://x:1;"), "{policy}");
        assert_eq!(res.headers().get("x-content-type-options").unwrap(), "nosniff");
        let (status, _, body) = get(&app, "/some/route").await;
        assert_eq!(status, 200, "unknown paths serve the page");
        assert!(body.contains("<title>t</title>"));
        let _ = std::fs::remove_dir_all(&dir);
        assert!(!built(&dir));
    }
}
