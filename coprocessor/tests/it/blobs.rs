//! Content addressing, limits and failure modes of the blob store and its HTTP endpoint.

use std::sync::Arc;

use axum::{
    body::{Body, to_bytes},
    http::{Request, StatusCode},
};
use bytes::Bytes;
use futures_util::{StreamExt, stream};
use modelmart_coprocessor::{BlobError, BlobKind, BlobStore, Limits, blobs::router};
use proptest::prelude::*;
use sha2::{Digest, Sha256};
use tower::ServiceExt;

fn sha(b: &[u8]) -> String {
    format!("{:x}", Sha256::digest(b))
}

fn chunks(
    data: &[u8],
    size: usize,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Unpin + use<> {
    stream::iter(
        data.chunks(size.max(1)).map(|c| Ok(Bytes::copy_from_slice(c))).collect::<Vec<_>>(),
    )
}

fn small_limits() -> Limits {
    Limits { card: 1_000, ..Limits::default() }
}

async fn collect(store: &BlobStore, hash: &str) -> eyre::Result<Option<Vec<u8>>> {
    let Some((size, mut s)) = store.get(hash).await? else { return Ok(None) };
    let mut out = Vec::new();
    while let Some(c) = s.next().await {
        out.extend_from_slice(&c?);
    }
    assert_eq!(out.len() as u64, size);
    Ok(Some(out))
}

fn staged_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

#[tokio::test]
async fn store_round_trips_and_refuses_bad_uploads() -> eyre::Result<()> {
    let dir = tempfile::tempdir()?;
    let tmp = dir.path().join("tmp");
    for url in [dir.path().join("blobs").display().to_string(), "memory:".to_owned()] {
        let store = BlobStore::open(&url, &tmp, small_limits())?;
        let card = br#"{"name":"demo"}"#;
        let h = sha(card);
        let s = store.put(BlobKind::Card, &h, chunks(card, 4)).await?;
        assert!(s.created);
        assert_eq!(s.size, card.len() as u64);
        assert!(
            !store.put(BlobKind::Card, &format!("0x{h}"), chunks(card, 100)).await?.created,
            "idempotent"
        );
        assert_eq!(collect(&store, &h).await?.as_deref(), Some(&card[..]));
        assert_eq!(store.size(&h).await?, Some(card.len() as u64));

        // Wrong hash: refused, nothing stored, nothing left behind.
        let other = sha(b"something else");
        let e = store.put(BlobKind::Card, &other, chunks(card, 3)).await.err();
        assert!(matches!(e, Some(BlobError::HashMismatch { .. })), "{e:?}");
        assert_eq!(store.size(&other).await?, None);

        // Over the kind's limit: refused while streaming.
        let big = vec![7u8; 1_001];
        let e = store.put(BlobKind::Card, &sha(&big), chunks(&big, 100)).await.err();
        assert!(matches!(e, Some(BlobError::TooLarge { limit: 1_000, .. })), "{e:?}");
        assert!(
            store.put(BlobKind::Input, &sha(&big), chunks(&big, 100)).await?.created,
            "inputs may be larger"
        );

        // An upload that breaks off stores nothing.
        let broken = stream::iter(vec![
            Ok(Bytes::from_static(b"half")),
            Err(std::io::Error::other("reset")),
        ]);
        let e = store.put(BlobKind::Card, &sha(b"half a card"), broken).await.err();
        assert!(matches!(e, Some(BlobError::Interrupted(_))), "{e:?}");
        assert_eq!(staged_files(&tmp), 0, "temporary files are removed");

        assert!(matches!(store.get("nope").await.err(), Some(BlobError::BadHash(_))));
        assert!(store.get(&sha(b"missing")).await?.is_none());
    }
    assert!(matches!(
        BlobStore::open("ftp://x", &tmp, Limits::default()).err(),
        Some(BlobError::BadUrl(_))
    ));
    // a crash leaves a staging file behind: the next start removes it once it is an hour old,
    // and leaves a fresh one (an upload in progress) alone
    let (stale, fresh) = (tmp.join("crashed.part"), tmp.join("uploading.part"));
    std::fs::write(&stale, b"half")?;
    std::fs::write(&fresh, b"half")?;
    let hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7_200);
    std::fs::File::options().write(true).open(&stale)?.set_modified(hours_ago)?;
    BlobStore::open("memory:", &tmp, Limits::default())?;
    assert!(!stale.exists(), "the stale staging file is swept");
    assert!(fresh.exists(), "a fresh one is kept");
    Ok(())
}

#[tokio::test]
async fn http_endpoint_puts_gets_and_explains_errors() -> eyre::Result<()> {
    let dir = tempfile::tempdir()?;
    let store = Arc::new(BlobStore::open(
        &dir.path().join("b").display().to_string(),
        dir.path().join("t"),
        small_limits(),
    )?);
    let app = router(store);
    let call = |req: Request<Body>| {
        let app = app.clone();
        async move {
            let res = app.oneshot(req).await?;
            let status = res.status();
            let len = res
                .headers()
                .get("content-length")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = to_bytes(res.into_body(), 64 << 20).await?;
            Ok::<_, eyre::Report>((status, len, body))
        }
    };
    let card = br#"{"name":"demo","task":"classification"}"#.to_vec();
    let h = sha(&card);
    let put = |hash: &str, kind: &str, body: Vec<u8>| {
        Request::put(format!("/v1/blobs/{hash}?kind={kind}"))
            .body(Body::from(body))
            .map_err(eyre::Report::from)
    };
    assert_eq!(call(put(&h, "card", card.clone())?).await?.0, StatusCode::CREATED);
    assert_eq!(call(put(&h, "card", card.clone())?).await?.0, StatusCode::OK);
    let (s, len, body) =
        call(Request::get(format!("/v1/blobs/0x{h}")).body(Body::empty())?).await?;
    assert_eq!(
        (s, len.as_deref(), &body[..]),
        (StatusCode::OK, Some(card.len().to_string().as_str()), &card[..])
    );
    assert_eq!(
        call(Request::head(format!("/v1/blobs/{h}")).body(Body::empty())?).await?.0,
        StatusCode::OK
    );
    // every answer, errors included, tells browsers not to guess a type
    for req in [
        Request::get(format!("/v1/blobs/{h}")).body(Body::empty())?,
        Request::get("/v1/blobs/nope").body(Body::empty())?,
    ] {
        let res = app.clone().oneshot(req).await?;
        assert_eq!(
            res.headers().get("x-content-type-options").and_then(|v| v.to_str().ok()),
            Some("nosniff")
        );
    }
    assert_eq!(
        call(Request::get(format!("/v1/blobs/{}", sha(b"x"))).body(Body::empty())?).await?.0,
        StatusCode::NOT_FOUND
    );

    let (s, _, body) = call(put(&h, "weights", card.clone())?).await?;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(String::from_utf8_lossy(&body).contains("unknown blob kind"));
    assert_eq!(call(put("abc", "card", card.clone())?).await?.0, StatusCode::BAD_REQUEST);
    let (s, _, body) = call(put(&sha(b"other"), "card", card.clone())?).await?;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(String::from_utf8_lossy(&body).contains("hashes to"));
    // results are the operator's: a stranger cannot store the largest kind (256 MiB) here
    let (s, _, body) = call(put(&h, "result", card.clone())?).await?;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(String::from_utf8_lossy(&body).contains("written by the operator"));
    let big = vec![1u8; 5_000];
    assert_eq!(call(put(&sha(&big), "card", big.clone())?).await?.0, StatusCode::PAYLOAD_TOO_LARGE);
    // every error is one shape (RFC 9457 problem details) with a stable code, the framework's own
    // rejections (a method the route does not answer, a query that does not parse) included
    let delete = Request::delete(format!("/v1/blobs/{h}")).body(Body::empty())?;
    let repeated =
        Request::put(format!("/v1/blobs/{h}?kind=card&kind=input")).body(Body::empty())?;
    for (req, status, code) in [
        (
            put(&sha(b"other"), "card", card.clone())?,
            StatusCode::UNPROCESSABLE_ENTITY,
            "unprocessable",
        ),
        (put(&h, "result", card.clone())?, StatusCode::FORBIDDEN, "forbidden"),
        (put(&sha(&big), "card", big.clone())?, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
        (
            Request::get(format!("/v1/blobs/{}", sha(b"x"))).body(Body::empty())?,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (delete, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
        (repeated, StatusCode::BAD_REQUEST, "bad_request"),
    ] {
        let uri = req.uri().to_string();
        let res = app.clone().oneshot(req).await?;
        let kind =
            res.headers().get("content-type").and_then(|v| v.to_str().ok()).map(str::to_owned);
        assert_eq!(
            (res.status(), kind.as_deref()),
            (status, Some("application/problem+json")),
            "{uri}"
        );
        let body: serde_json::Value =
            serde_json::from_slice(&to_bytes(res.into_body(), 1 << 20).await?)?;
        assert_eq!(
            (body["code"].as_str(), body["status"].as_u64()),
            (Some(code), Some(u64::from(status.as_u16()))),
            "{uri}: {body}"
        );
        assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()), "{uri}: {body}");
    }

    // Blobs far above axum's default 2 MB body limit stream through (a 20 MB "evaluation key").
    let key: Vec<u8> =
        (0..20_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    let kh = sha(&key);
    let stream = Body::from_stream(chunks(&key, 1 << 16));
    let (s, _, _) =
        call(Request::put(format!("/v1/blobs/{kh}?kind=eval_key")).body(stream)?).await?;
    assert_eq!(s, StatusCode::CREATED);
    let (s, len, body) = call(Request::get(format!("/v1/blobs/{kh}")).body(Body::empty())?).await?;
    assert_eq!((s, len), (StatusCode::OK, Some(key.len().to_string())));
    assert_eq!(sha(&body), kh);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// Any bytes in any chunking are stored under their SHA-256 and read back unchanged.
    #[test]
    fn any_chunking_round_trips(data in proptest::collection::vec(any::<u8>(), 0..5_000), chunk in 1usize..700) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let out: eyre::Result<Option<Vec<u8>>> = rt.block_on(async {
            let dir = tempfile::tempdir()?;
            let store = BlobStore::open("memory:", dir.path(), Limits::default())?;
            let h = sha(&data);
            store.put(BlobKind::Input, &h, chunks(&data, chunk)).await?;
            collect(&store, &h).await
        });
        prop_assert_eq!(out.map_err(|e| TestCaseError::fail(e.to_string()))?, Some(data));
    }
}

#[test]
fn openapi_document_has_not_drifted() -> eyre::Result<()> {
    use utoipa::OpenApi;
    let fresh = modelmart_coprocessor::blobs::BlobApi::openapi().to_pretty_json()? + "\n";
    modelmart_testkit::assert_spec_current("coprocessor/openapi.json", &fresh)
}
