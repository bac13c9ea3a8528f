//! A JSON-RPC proxy that can fail: pass everything, answer every call with 503 (an outage), or
//! swallow `eth_sendRawTransaction` while answering with the transaction's hash (a transaction the
//! node never sees: "dropped").

use std::sync::{
    Arc,
    atomic::{AtomicU8, AtomicU64, Ordering},
};

use alloy::primitives::keccak256;
use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::post,
};

/// Forward every call.
pub const PASS: u8 = 0;
/// Answer every call with HTTP 503.
pub const OUTAGE: u8 = 1;
/// Swallow raw transactions (answering with their hash); forward the rest.
pub const DROP_SENDS: u8 = 2;

/// A running proxy.
#[derive(Clone, Debug)]
pub struct RpcProxy {
    /// Its URL.
    pub url: String,
    /// [`PASS`], [`OUTAGE`] or [`DROP_SENDS`].
    pub mode: Arc<AtomicU8>,
    /// Transactions swallowed so far.
    pub dropped: Arc<AtomicU64>,
    target: String,
    http: reqwest::Client,
}

impl RpcProxy {
    /// Start in front of `target` on a free local port.
    pub async fn start(target: String) -> eyre::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let proxy = Self {
            url: format!("http://{}", listener.local_addr()?),
            mode: Arc::new(AtomicU8::new(PASS)),
            dropped: Arc::new(AtomicU64::new(0)),
            target,
            http: reqwest::Client::new(),
        };
        let app = Router::new().route("/", post(forward)).with_state(proxy.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(proxy)
    }

    /// Switch mode.
    pub fn set(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
    }
}

async fn forward(State(p): State<RpcProxy>, body: Bytes) -> Response {
    match p.mode.load(Ordering::SeqCst) {
        OUTAGE => return (StatusCode::SERVICE_UNAVAILABLE, "outage").into_response(),
        DROP_SENDS => {
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body)
                && v["method"] == "eth_sendRawTransaction"
                && let Some(raw) = v["params"][0].as_str()
                && let Ok(bytes) = alloy::hex::decode(raw)
            {
                p.dropped.fetch_add(1, Ordering::SeqCst);
                let answer = serde_json::json!({ "jsonrpc": "2.0", "id": v["id"], "result": keccak256(bytes) });
                return ([("content-type", "application/json")], answer.to_string())
                    .into_response();
            }
        }
        _ => {}
    }
    match p.http.post(&p.target).header("content-type", "application/json").body(body).send().await
    {
        Ok(r) => {
            let status =
                StatusCode::from_u16(r.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
            let bytes = r.bytes().await.unwrap_or_default();
            (status, [("content-type", "application/json")], bytes).into_response()
        }
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}
