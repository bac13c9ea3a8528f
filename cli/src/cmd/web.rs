//! The web dApp's server in `modelmart dev`: the built page (`web/dist`) and `/config.json`, which
//! tells the page where this stack's chain, contract, tokens and indexer are.

use std::{net::SocketAddr, path::Path};

use axum::{Json, Router, routing::get};
use serde_json::Value;
use tower_http::services::{ServeDir, ServeFile};

/// Whether `dir` holds a built page.
pub(crate) fn built(dir: &Path) -> bool {
    dir.join("index.html").is_file()
}

/// The page's routes: `/config.json`, the files of `dir`, and `index.html` for any other path.
pub(crate) fn router(dir: &Path, config: Value) -> Router {
    let files = ServeDir::new(dir).fallback(ServeFile::new(dir.join("index.html")));
    Router::new()
        .route("/config.json", get(move || async move { Json(config) }))
        .fallback_service(files)
}

/// Serve `dir` and `config` on `listen` until `shutdown` resolves.
pub(crate) async fn serve(
    listen: SocketAddr,
    dir: &Path,
    config: Value,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> eyre::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    axum::serve(listener, router(dir, config)).with_graceful_shutdown(shutdown).await?;
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
        let app = router(&dir, serde_json::json!({ "chainId": 31337 }));

        let (status, ctype, body) = get(&app, "/config.json").await;
        assert_eq!((status, ctype.as_str()), (200, "application/json"));
        assert!(body.contains("31337"), "{body}");
        let (status, ctype, _) = get(&app, "/assets/a.wasm").await;
        assert_eq!(
            (status, ctype.as_str()),
            (200, "application/wasm"),
            "wasm streams only with its type"
        );
        let (status, _, body) = get(&app, "/some/route").await;
        assert_eq!(status, 200, "unknown paths serve the page");
        assert!(body.contains("<title>t</title>"));
        let _ = std::fs::remove_dir_all(&dir);
        assert!(!built(&dir));
    }
}
