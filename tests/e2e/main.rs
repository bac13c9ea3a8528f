//! End to end on anvil: a seller lists, the operator's coprocessor accepts, buyers pay (native
//! coin; ERC-20 by permit and by approval) and get results equal to the clear model; bad inputs
//! and an expired job refund the buyer; a coprocessor killed mid-job still posts exactly one
//! result; seller and operator withdraw exactly what they earned.

use std::time::Duration;

use alloy::{
    primitives::{Address, B256, U256, aliases::U96},
    providers::Provider,
    rpc::types::Filter,
    sol_types::SolEvent,
};
use modelmart_bindings::{IModelMarket, ModelMarket, TestToken};
use modelmart_coprocessor::queue::Queue;
use modelmart_e2e::{BUYER, OPERATOR, SELLER, Stack, demo_model, demo_model_as};
use modelmart_fhe::params::ParamSetId;
use modelmart_sdk::{
    BlobKind, Buyer, BuyerKeys, Error, JobStatus, ModelId, Payment, Seller, Terms,
    blobs::BlobClient,
    card::{ModelCard, OutputMode},
    dev::ETH,
    reasons, seal,
};

const MINUTE: Duration = Duration::from_secs(60);

async fn completed_events(stack: &Stack) -> eyre::Result<Vec<ModelMarket::JobCompleted>> {
    let chain = stack.chain(0).await?;
    let filter = Filter::new()
        .address(stack.deployment.market)
        .event_signature(ModelMarket::JobCompleted::SIGNATURE_HASH)
        .from_block(0);
    let logs = chain.provider().get_logs(&filter).await?;
    Ok(logs
        .iter()
        .map(|l| ModelMarket::JobCompleted::decode_log_data(l.data()))
        .collect::<Result<_, _>>()?)
}

async fn queue_count(stack: &Stack, state: &str) -> eyre::Result<i64> {
    let q = Queue::connect(&stack.queue_url(), 1).await?;
    let n = q.depth().await?.into_iter().find(|(s, _)| s == state).map(|(_, n)| n).unwrap_or(0);
    q.close().await;
    Ok(n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paid_private_inference_end_to_end() -> eyre::Result<()> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_test_writer()
        .try_init();
    let mut stack = Stack::start().await?;
    let (logreg, logreg_card, test) = demo_model("logreg_breast_cancer", "breast_cancer", 4)?;
    let (tree, tree_card, _) = demo_model("tree5_breast_cancer", "breast_cancer", 0)?;
    assert_eq!(logreg_card.accuracy.fhe_agreement, Some(1.0));
    assert_eq!(tree_card.accuracy.fhe_agreement, None, "no row was run, nothing is claimed");

    // seller lists three models; the coprocessor opens, checks and accepts each
    let seller = Seller::new(stack.chain(SELLER).await?)?;
    let native = native_terms(&stack);
    let usd = Terms {
        token: stack.deployment.token,
        price_per_row: 1_000_000,
        operator_fee_per_row: 250_000,
        ..native.clone()
    };
    let lin_native = seller.publish(&logreg, &logreg_card, &native).await?.model_id;
    let lin_usd = seller.publish(&logreg, &logreg_card, &usd).await?.model_id;
    let tree_native = seller.publish(&tree, &tree_card, &native).await?.model_id;
    for id in [lin_native, lin_usd, tree_native] {
        seller.wait_accepted(id, MINUTE).await?;
    }

    // a sealed model bound to another card is declined with a reason
    let blobs = BlobClient::new()?;
    let chain = stack.chain(SELLER).await?;
    let ctx = chain.seal_context(stack.address(SELLER), stack.address(OPERATOR)).await?;
    let named = logreg_card.clone().for_listing(&ctx);
    let card_hash = blobs.put(&stack.endpoint, BlobKind::Card, named.to_bytes()).await?;
    let other = ModelCard { name: "another card".into(), ..named.clone() };
    let sealed =
        seal::seal(&logreg.to_json()?, &operator_x25519(&stack).await?, &other.hash(), &ctx)?;
    let sealed_hash = blobs.put(&stack.endpoint, BlobKind::SealedModel, sealed).await?;
    let listing = IModelMarket::Listing {
        operator: stack.address(OPERATOR),
        token: Address::ZERO,
        pricePerRow: U96::from(1u64),
        operatorFeePerRow: U96::from(1u64),
        cardHash: card_hash,
        sealedModelHash: sealed_hash,
        paramSet: logreg.param_set.0,
        maxRows: 8,
        jobDeadline: 600,
        outputMode: 0,
    };
    let r = chain.send("listModel", chain.market().listModel(listing)).await?;
    let bad =
        r.decoded_log::<ModelMarket::ModelListed>().ok_or_else(|| eyre::eyre!("no event"))?.modelId;
    let bad = ModelId::try_from(bad)?;
    let declined =
        seller.wait_accepted(bad, MINUTE).await.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(declined.contains(&format!("reason {}", reasons::CANNOT_OPEN)), "{declined}");

    // buyer: native coin
    let buyer_chain = stack.chain(BUYER).await?;
    let mut buyer = Buyer::new(buyer_chain.clone(), BuyerKeys::generate(ParamSetId(1))?)?;
    buyer.job_timeout = 2 * MINUTE;
    let rows = test.x[..3].to_vec();
    let clear_lin: Vec<Vec<i64>> =
        rows.iter().map(|r| logreg.predict_clear(r)).collect::<Result<_, _>>()?;
    let p = buyer.infer(lin_native, &rows, Payment::Auto).await?;
    assert_eq!(p.raw, clear_lin, "native: FHE result equals the clear model");
    assert_eq!(p.labels.as_ref().map(Vec::len), Some(3));

    // ERC-20 by permit (one transaction) and by approval
    let token = TestToken::new(stack.deployment.token, buyer_chain.provider().clone());
    buyer_chain
        .send("mint", token.mint(stack.address(BUYER), U256::from(1_000_000_000u64)))
        .await?;
    let p = buyer.infer(lin_usd, &rows, Payment::Permit).await?;
    assert_eq!(p.raw, clear_lin, "permit");
    let p = buyer.infer(lin_usd, &rows[..1], Payment::Approve).await?;
    assert_eq!(p.raw, clear_lin[..1], "approve");

    // a bootstrapped model, label-only (on chain: output mode 2): the evaluation key is
    // uploaded and used; the class is decided under FHE and washed, and no score leaves
    assert_eq!(tree_card.output_mode, OutputMode::LabelOnly);
    let p = buyer.infer(tree_native, &rows[..2], Payment::Auto).await?;
    let clear_tree: Vec<Vec<i64>> =
        rows[..2].iter().map(|r| tree.predict_clear(r)).collect::<Result<_, _>>()?;
    assert_eq!(p.raw, clear_tree, "tree");
    assert_eq!(p.scores, vec![Vec::<f64>::new(); 2], "no score leaves a label-only listing");
    assert_eq!(p.labels.as_ref().map(Vec::len), Some(2));

    // a network's rounded scores (output mode 1), with the evaluation key registered above:
    // five washed bits per score, decrypted to the clear program's rounded scores
    let (mlp, mlp_card, _) =
        demo_model_as("mlp30_16_2_breast_cancer", "breast_cancer", 0, OutputMode::RoundedScores)?;
    let mlp_native = seller.publish(&mlp, &mlp_card, &native).await?.model_id;
    seller.wait_accepted(mlp_native, MINUTE).await?;
    let p = buyer.infer(mlp_native, &rows[..1], Payment::Auto).await?;
    assert_eq!(p.raw, vec![mlp.predict_clear(&rows[0])?], "rounded network");
    assert_eq!(p.scores[0].len(), 2, "both rounded scores");

    // bad inputs are rejected on chain with a reason and refunded in full
    let model = buyer.model(lin_native).await?;
    let key = buyer.ensure_key(&model).await?;
    for (bytes, rows_paid, reason) in [
        (b"not a ciphertext".to_vec(), 1, reasons::MALFORMED),
        (
            BuyerKeys::generate(ParamSetId(1))?
                .client()
                .encrypt_rows(&model.card.model, &rows[..2])?
                .to_bytes()?,
            1,
            reasons::ROW_COUNT,
        ),
    ] {
        let input = blobs.put(&stack.endpoint, BlobKind::Input, bytes).await?;
        let before = buyer_chain.balance(stack.address(BUYER), Address::ZERO).await?;
        let job = buyer.request(&model, input, key, rows_paid, None, Payment::Auto).await?;
        match buyer.result(&model, &job).await {
            Err(Error::JobFailed { status: JobStatus::Rejected, reason: Some(r), .. }) => {
                assert_eq!(r, reason)
            }
            other => eyre::bail!("expected a rejection with reason {reason}, got {other:?}"),
        }
        let after = buyer_chain.balance(stack.address(BUYER), Address::ZERO).await?;
        assert_eq!(after - before, job.price, "full refund");
    }
    // an input for another schema (29 features) is non-conformant
    let mut narrow = model.card.model.clone();
    narrow.schema.features.pop();
    let bytes = BuyerKeys::generate(ParamSetId(1))?
        .client()
        .encrypt_rows(&narrow, &[rows[0][..29].to_vec()])?
        .to_bytes()?;
    let input = blobs.put(&stack.endpoint, BlobKind::Input, bytes).await?;
    let job = buyer.request(&model, input, key, 1, None, Payment::Auto).await?;
    assert!(matches!(
        buyer.result(&model, &job).await,
        Err(Error::JobFailed { reason: Some(reasons::NON_CONFORMANT), .. })
    ));
    // a stored blob altered behind the endpoint's back is caught by the re-hash
    let input = buyer.upload_rows(&model, &rows[..1]).await?;
    let stored = stack.dir.path().join("blobs/blobs").join(alloy::hex::encode(input));
    std::fs::write(&stored, b"tampered on disk")?;
    let job = buyer.request(&model, input, key, 1, None, Payment::Auto).await?;
    assert!(matches!(
        buyer.result(&model, &job).await,
        Err(Error::JobFailed { reason: Some(reasons::HASH_MISMATCH), .. })
    ));
    // a job that arrives with too little time left (the operator was down for most of the
    // shortest deadline a listing may set): rejected at once (refund), not left to expire
    let short = seller
        .publish(&logreg, &logreg_card, &Terms { job_deadline: 60, ..native.clone() })
        .await?
        .model_id;
    seller.wait_accepted(short, MINUTE).await?;
    let short_model = buyer.model(short).await?;
    let input = buyer.upload_rows(&short_model, &rows[..1]).await?;
    stack.stop_coprocessor().await?;
    let job = buyer.request(&short_model, input, key, 1, None, Payment::Auto).await?;
    buyer_chain
        .provider()
        .raw_request::<_, serde_json::Value>("evm_increaseTime".into(), (57u64,))
        .await?;
    buyer_chain.provider().raw_request::<_, serde_json::Value>("evm_mine".into(), ()).await?;
    stack.start_coprocessor();
    stack.wait_healthy().await?;
    let got = buyer.result(&short_model, &job).await;
    assert!(
        matches!(got, Err(Error::JobFailed { reason: Some(reasons::DEADLINE), .. })),
        "{:?}",
        got.map(|p| p.raw)
    );
    // an input nobody uploaded
    let job = buyer.request(&model, B256::repeat_byte(9), key, 1, None, Payment::Auto).await?;
    assert!(matches!(
        buyer.result(&model, &job).await,
        Err(Error::JobFailed { reason: Some(reasons::INPUT_MISSING), .. })
    ));
    // the wrong kind of key: a tree job naming the public key (leveled models' key) instead of
    // the evaluation key is rejected with a reason, not evaluated and not left hanging
    let tree_model = buyer.model(tree_native).await?;
    let input = buyer.upload_rows(&tree_model, &rows[..1]).await?;
    let job = buyer.request(&tree_model, input, key, 1, None, Payment::Auto).await?;
    assert!(matches!(
        buyer.result(&tree_model, &job).await,
        Err(Error::JobFailed { reason: Some(reasons::KEY_MISSING), .. })
    ));

    // an expired job: the operator is down past the deadline; the buyer gets escrow + penalty
    let input = buyer.upload_rows(&model, &rows[..1]).await?;
    stack.stop_coprocessor().await?;
    let job = buyer.request(&model, input, key, 1, None, Payment::Auto).await?;
    let expired = job.job_id;
    let provider = buyer_chain.provider();
    provider.raw_request::<_, serde_json::Value>("evm_increaseTime".into(), (601u64,)).await?;
    provider.raw_request::<_, serde_json::Value>("evm_mine".into(), ()).await?;
    let before = buyer_chain.balance(stack.address(BUYER), Address::ZERO).await?;
    buyer_chain
        .send("refundExpired", buyer_chain.market().refundExpired(job.job_id.to_u256()))
        .await?;
    let after = buyer_chain.balance(stack.address(BUYER), Address::ZERO).await?;
    // the escrow back, nothing more: the operator's slash is burned (an expiry profits nobody)
    assert_eq!(after - before, job.price);

    // the coprocessor comes back, sees the job settled, and posts nothing for it
    stack.start_coprocessor();
    stack.wait_healthy().await?;

    // killed mid-job: still exactly one result, the right one
    let model = buyer.model(tree_native).await?;
    let key = buyer.ensure_key(&model).await?;
    let input = buyer.upload_rows(&model, &rows).await?;
    let job = buyer.request(&model, input, key, 3, None, Payment::Auto).await?;
    let t = tokio::time::Instant::now();
    while queue_count(&stack, "running").await? == 0 {
        eyre::ensure!(t.elapsed() < MINUTE, "the job never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stack.kill_coprocessor().await;
    stack.start_coprocessor();
    stack.wait_healthy().await?;
    let p = buyer.result(&model, &job).await?;
    let clear: Vec<Vec<i64>> =
        rows.iter().map(|r| tree.predict_clear(r)).collect::<Result<_, _>>()?;
    assert_eq!(p.raw, clear);
    let done = completed_events(&stack).await?;
    assert_eq!(
        done.iter().filter(|e| e.jobId == job.job_id.to_u256()).count(),
        1,
        "exactly one result"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        done.iter().all(|e| e.jobId != expired.to_u256()),
        "nothing posted for the expired job"
    );
    assert_eq!(queue_count(&stack, "rejected").await?, 7);
    let health: serde_json::Value =
        reqwest::get(format!("{}/healthz", stack.endpoint)).await?.json().await?;
    assert_eq!(health["status"], "ok", "{health}");
    assert_eq!(health["queue"]["completed"], 6, "{health}");
    let metrics = reqwest::get(format!("{}/metrics", stack.endpoint)).await?.text().await?;
    for series in [
        "modelmart_coprocessor_queue_depth",
        "modelmart_coprocessor_jobs_total",
        "modelmart_coprocessor_eval_seconds",
        "modelmart_coprocessor_post_seconds",
        "modelmart_coprocessor_fetch_seconds",
        "modelmart_coprocessor_bootstraps_total",
    ] {
        assert!(metrics.contains(series), "{series} missing from /metrics");
    }
    assert_eq!(queue_count(&stack, "completed").await?, 6);

    // withdrawals: exactly what the completed jobs credited
    let seller_native: U256 = done
        .iter()
        .filter(|e| e.sellerAmount > U256::from(10_000_000u64))
        .map(|e| e.sellerAmount)
        .sum();
    let seller_usd: U256 = done
        .iter()
        .filter(|e| e.sellerAmount <= U256::from(10_000_000u64))
        .map(|e| e.sellerAmount)
        .sum();
    let op_native: U256 = done
        .iter()
        .filter(|e| e.operatorAmount > U256::from(10_000_000u64))
        .map(|e| e.operatorAmount)
        .sum();
    assert_eq!(seller.withdraw(stack.deployment.token).await?, seller_usd);
    assert_eq!(token.balanceOf(stack.address(SELLER)).call().await?, seller_usd);
    assert_eq!(seller.withdraw(Address::ZERO).await?, seller_native);
    assert_eq!(seller.earnings(Address::ZERO).await?, U256::ZERO);
    let operator = modelmart_sdk::Operator::new(stack.chain(OPERATOR).await?);
    assert_eq!(operator.withdraw(Address::ZERO).await?, op_native);
    stack.stop_coprocessor().await?;
    Ok(())
}

/// The operator's X25519 public key as registered on chain.
async fn operator_x25519(stack: &Stack) -> eyre::Result<[u8; 32]> {
    let op = modelmart_sdk::Operator::new(stack.chain(SELLER).await?);
    Ok(op.info(stack.address(OPERATOR)).await?.x25519_key.0)
}

/// A fresh Postgres database for a shared queue (`MODELMART_TEST_PG` names the server).
async fn fresh_postgres() -> eyre::Result<String> {
    use sqlx::{Connection, Executor};
    let admin = std::env::var("MODELMART_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&admin).await?;
    let name = format!("mm_e2e_{:x}", std::process::id());
    conn.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str()).await?;
    conn.execute(format!("CREATE DATABASE {name}").as_str()).await?;
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    Ok(format!("{base}/{name}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_coprocessors_share_a_postgres_queue() -> eyre::Result<()> {
    use sqlx::Row;
    const JOBS: usize = 8;
    let pg = fresh_postgres().await?;
    // 8 workers and 1 evaluation slot each: a process claims only what it can start soon, so
    // the jobs spread over both instead of being hoarded by the first to see them
    let mut stack = Stack::start_opts(&[], 8, Some(pg.clone())).await?;
    let other_dir = tempfile::tempdir()?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let second = tokio::spawn(modelmart_coprocessor::service::run(
        stack.second_coprocessor_args(other_dir.path(), "second")?,
        None,
        async {
            let _ = rx.await;
        },
    ));

    let (tree, card, test) = demo_model("tree5_breast_cancer", "breast_cancer", 0)?;
    let (buyer, model, key) = listed_for_buyer(&stack, &tree, &card).await?;
    // how many jobs each process holds at once, sampled from the queue while they run
    let pool = sqlx::AnyPool::connect(&pg).await?;
    let (done_tx, mut done_rx) = tokio::sync::oneshot::channel::<()>();
    let sampler = {
        let pool = pool.clone();
        tokio::spawn(async move {
            let mut most = (0usize, 0usize);
            while done_rx.try_recv().is_err() {
                let rows = sqlx::query("SELECT worker FROM cp_jobs WHERE state = 'running'")
                    .fetch_all(&pool)
                    .await?;
                let names: Vec<String> =
                    rows.iter().map(|r| r.try_get("worker")).collect::<Result<_, _>>()?;
                let second = names.iter().filter(|w| w.starts_with("second-")).count();
                most = (most.0.max(names.len() - second), most.1.max(second));
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            Ok::<_, eyre::Report>(most)
        })
    };
    let mut jobs = Vec::new();
    for i in 0..JOBS {
        let input = buyer.upload_rows(&model, &test.x[i..=i]).await?;
        jobs.push((i, buyer.request(&model, input, key, 1, None, Payment::Auto).await?));
    }
    for (i, job) in &jobs {
        let p = buyer.result(&model, job).await?;
        assert_eq!(p.raw[0], tree.predict_clear(&test.x[*i])?);
    }
    let done = completed_events(&stack).await?;
    for (_, job) in &jobs {
        assert_eq!(done.iter().filter(|e| e.jobId == job.job_id.to_u256()).count(), 1);
    }
    let _ = done_tx.send(());
    let most = sampler.await??;
    println!("most jobs held at once: first {}, second {}", most.0, most.1);
    // two claim slots per evaluation slot, plus a job whose answer is being posted
    assert!(most.0.max(most.1) <= 4, "a process held {most:?} jobs at once");
    // both processes took jobs from the one queue
    // a worker records its job completed after the chain has its result: wait for the last
    let mut workers: Vec<String> = Vec::new();
    for _ in 0..100 {
        let rows = sqlx::query("SELECT worker FROM cp_jobs WHERE state = 'completed'")
            .fetch_all(&pool)
            .await?;
        workers =
            rows.iter().map(|r| r.try_get::<String, _>("worker")).collect::<Result<_, _>>()?;
        if workers.len() >= JOBS {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(workers.len(), JOBS);
    let took = workers.iter().filter(|w| w.starts_with("second-")).count();
    println!("split of {JOBS} jobs: {} first, {took} second", JOBS - took);
    assert!((2..=JOBS - 2).contains(&took), "one process hoarded the jobs: {workers:?}");
    pool.close().await;
    let _ = tx.send(());
    second.await??;

    // the queue's database goes away: `/healthz` says `down` with a 503, not `ok` and empty
    let admin = std::env::var("MODELMART_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let name = pg.rsplit_once('/').map_or("", |(_, n)| n);
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin).await?;
    sqlx::Executor::execute(&mut conn, format!("DROP DATABASE {name} WITH (FORCE)").as_str())
        .await?;
    let res = reqwest::get(format!("{}/healthz", stack.endpoint)).await?;
    let status = res.status();
    let health: serde_json::Value = res.json().await?;
    assert_eq!(status, reqwest::StatusCode::SERVICE_UNAVAILABLE, "{health}");
    assert_eq!(health["status"], "down", "{health}");
    assert!(health["error"].as_str().is_some_and(|e| !e.contains("postgres://")), "{health}");
    stack.stop_coprocessor().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_result_transactions_and_rpc_outages_still_settle_once() -> eyre::Result<()> {
    use modelmart_e2e::proxy::{DROP_SENDS, OUTAGE, PASS, RpcProxy};
    use std::sync::atomic::Ordering;
    let mut stack = Stack::start().await?;
    let proxy = RpcProxy::start(stack.anvil.endpoint()).await?;
    stack.stop_coprocessor().await?;
    stack.coprocessor_rpc = Some(proxy.url.clone());
    stack.start_coprocessor();
    stack.wait_healthy().await?;

    let (logreg, card, test) = demo_model("logreg_breast_cancer", "breast_cancer", 0)?;
    let (buyer, model, key) = listed_for_buyer(&stack, &logreg, &card).await?;
    let row = &test.x[..1];
    let clear = vec![logreg.predict_clear(&row[0])?];

    // the node never sees the result transactions: the coprocessor waits, checks, resends
    proxy.set(DROP_SENDS);
    let input = buyer.upload_rows(&model, row).await?;
    let first = buyer.request(&model, input, key, 1, None, Payment::Auto).await?;
    let t = tokio::time::Instant::now();
    while proxy.dropped.load(Ordering::SeqCst) < 2 {
        eyre::ensure!(t.elapsed() < MINUTE, "no result transaction was attempted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    proxy.set(PASS);
    assert_eq!(buyer.result(&model, &first).await?.raw, clear);

    // an outage of the coprocessor's node: reported in /healthz, then caught up
    proxy.set(OUTAGE);
    let input = buyer.upload_rows(&model, &test.x[1..2]).await?;
    let second = buyer.request(&model, input, key, 1, None, Payment::Auto).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let health: serde_json::Value =
        reqwest::get(format!("{}/healthz", stack.endpoint)).await?.json().await?;
    assert_eq!(health["status"], "degraded", "{health}");
    proxy.set(PASS);
    assert_eq!(buyer.result(&model, &second).await?.raw, vec![logreg.predict_clear(&test.x[1])?]);

    let done = completed_events(&stack).await?;
    for job in [first, second] {
        assert_eq!(done.iter().filter(|e| e.jobId == job.job_id.to_u256()).count(), 1);
    }
    stack.stop_coprocessor().await?;
    Ok(())
}

/// The seller's native-coin terms used by these tests.
fn native_terms(stack: &Stack) -> Terms {
    Terms {
        operator: stack.address(OPERATOR),
        token: Address::ZERO,
        price_per_row: ETH / 1_000,
        operator_fee_per_row: ETH / 5_000,
        max_rows: 8,
        job_deadline: 600,
    }
}

/// List `model` for the native coin, wait for the operator, and ready a fresh buyer for it.
async fn listed_for_buyer(
    stack: &Stack,
    model: &modelmart_fhe::CompiledModel,
    card: &ModelCard,
) -> eyre::Result<(Buyer, modelmart_sdk::ModelInfo, B256)> {
    let seller = Seller::new(stack.chain(SELLER).await?)?;
    let id = seller.publish(model, card, &native_terms(stack)).await?.model_id;
    seller.wait_accepted(id, MINUTE).await?;
    let mut buyer = Buyer::new(stack.chain(BUYER).await?, BuyerKeys::generate(ParamSetId(1))?)?;
    buyer.job_timeout = 2 * MINUTE;
    let info = buyer.model(id).await?;
    let key = buyer.ensure_key(&info).await?;
    Ok((buyer, info, key))
}

/// A worker whose lease was taken over (another process now holds the job) stops: it neither
/// evaluates on nor posts, so the job is answered once, by the holder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_lost_its_lease_stops() -> eyre::Result<()> {
    let stack = Stack::start().await?;
    let (tree, card, test) = demo_model("tree5_breast_cancer", "breast_cancer", 0)?;
    let (buyer, model, key) = listed_for_buyer(&stack, &tree, &card).await?;
    let input = buyer.upload_rows(&model, &test.x[..8]).await?;
    let job = buyer.request(&model, input, key, 8, None, Payment::Auto).await?;
    let t = tokio::time::Instant::now();
    while queue_count(&stack, "running").await? == 0 {
        eyre::ensure!(t.elapsed() < MINUTE, "the job never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // another process takes the job over (as after a lease that ran out)
    let q = sqlx::AnyPool::connect(&stack.queue_url()).await?;
    sqlx::query("UPDATE cp_jobs SET worker = 'elsewhere', lease_until = lease_until + 3600 WHERE job_id = $1")
        .bind(job.job_id.to_i64())
        .execute(&q)
        .await?;
    // the evaluation (8 rows of a depth-5 tree) outlasts a heartbeat; give it time to post
    tokio::time::sleep(Duration::from_secs(15)).await;
    let done = completed_events(&stack).await?;
    assert!(
        done.iter().all(|e| e.jobId != job.job_id.to_u256()),
        "the worker that lost the lease posted a result"
    );
    let state: String = sqlx::query_scalar("SELECT state FROM cp_jobs WHERE job_id = $1")
        .bind(job.job_id.to_i64())
        .fetch_one(&q)
        .await?;
    assert_eq!(state, "running", "the holder's claim is untouched");
    Ok(())
}
