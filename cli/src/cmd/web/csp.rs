//! The page's Content-Security-Policy: scripts, styles and workers only from the page's own
//! origin (WebAssembly compiled, never `eval`), no inline script, no frames, and network access
//! only to this stack's chain, its indexer and the endpoints of active operators — so a script
//! that got into the page could not send the keys it holds anywhere else.
//!
//! Operator endpoints are chain data an attacker writes: each is reduced to an `http(s)` origin
//! (scheme, host, port) and anything else is dropped, so an endpoint cannot add directives.

use std::sync::{Arc, RwLock};

use serde::Deserialize;

/// The policy, with the operator origins refreshed from the indexer.
#[derive(Clone, Debug)]
pub(crate) struct Csp {
    fixed: Vec<String>,
    operators: Arc<RwLock<Vec<String>>>,
}

/// `scheme://host[:port]` of an `http`/`https` URL, or `None`.
pub(crate) fn origin(url: &str) -> Option<String> {
    let u = reqwest::Url::parse(url.trim()).ok()?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none_or(str::is_empty) {
        return None;
    }
    let origin = u.origin().ascii_serialization();
    // an origin is never more than these characters; anything else would be policy syntax
    origin.chars().all(|c| c.is_ascii_alphanumeric() || ":/.-[]".contains(c)).then_some(origin)
}

#[derive(Deserialize)]
struct OperatorRow {
    endpoint: String,
}

impl Csp {
    /// A policy allowing connections to the page's origin and to `urls` (chain RPC, indexer).
    pub(crate) fn new<'a>(urls: impl IntoIterator<Item = &'a str>) -> Self {
        Self { fixed: urls.into_iter().filter_map(origin).collect(), operators: Arc::default() }
    }

    /// The header value.
    pub(crate) fn header(&self) -> String {
        let mut connect = vec!["'self'".to_owned()];
        connect.extend(self.fixed.iter().cloned());
        if let Ok(ops) = self.operators.read() {
            connect
                .extend(ops.iter().filter(|o| !connect.contains(o)).cloned().collect::<Vec<_>>());
        }
        format!(
            "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; \
             style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src {}; \
             base-uri 'none'; form-action 'none'; frame-ancestors 'none'; object-src 'none'",
            connect.join(" ")
        )
    }

    /// Replace the operator origins with those of `endpoints`.
    pub(crate) fn set_operators<'a>(&self, endpoints: impl IntoIterator<Item = &'a str>) {
        let mut origins: Vec<String> = endpoints.into_iter().filter_map(origin).collect();
        origins.sort();
        origins.dedup();
        if let Ok(mut ops) = self.operators.write() {
            *ops = origins;
        }
    }

    /// Read the active operators' endpoints from the indexer at `indexer`.
    pub(crate) async fn refresh(
        &self,
        client: &reqwest::Client,
        indexer: &str,
    ) -> eyre::Result<()> {
        let rows: Vec<OperatorRow> = client
            .get(format!("{indexer}/v1/operators?status=active"))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        self.set_operators(rows.iter().map(|r| r.endpoint.as_str()));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_go_only_to_the_stack_and_to_operator_origins() {
        let csp = Csp::new(["http://127.0.0.1:8545", "http://127.0.0.1:8600/"]);
        csp.set_operators([
            "http://127.0.0.1:8700",
            "https://op.example:9443/some/path?q=1",
            // chain data written by an attacker: none of it may become policy
            "http://evil.example; script-src 'unsafe-inline' *",
            "javascript:alert(1)",
            "data:text/html,hi",
            "http://",
            "http://127.0.0.1:8700",
        ]);
        let h = csp.header();
        let connect = h.split("; ").find(|d| d.starts_with("connect-src")).unwrap_or_default();
        assert_eq!(
            connect,
            "connect-src 'self' http://127.0.0.1:8545 http://127.0.0.1:8600 \
             http://127.0.0.1:8700 https://op.example:9443"
        );
        assert!(!h.contains("unsafe-inline") && !h.contains("evil") && !h.contains('*'), "{h}");
        assert!(h.contains("script-src 'self' 'wasm-unsafe-eval';"), "{h}");
        assert_eq!(h.matches("script-src").count(), 1);
    }
}
