//! Every event type lands in the right table with the right values, on both backends.

use alloy::{
    primitives::{Address, U256, aliases::U96, keccak256},
    providers::{Provider, ProviderBuilder},
};
use modelmart_bindings::IModelMarket;
use modelmart_indexer::{Db, Follower, FollowerConfig};
use sqlx::Row;
use tokio::sync::broadcast;

use crate::{
    chain::{ETH, Market},
    db::TestDb,
};

pub(crate) fn follower(
    m: &Market,
    db: Db,
    max_range: u64,
) -> (Follower, broadcast::Receiver<modelmart_indexer::Update>) {
    let provider = ProviderBuilder::new().connect_http(m.node.endpoint_url()).erased();
    let cfg = FollowerConfig {
        contract: *m.market.address(),
        start_block: m.deploy_block,
        max_range,
        ..FollowerConfig::default()
    };
    let (tx, rx) = broadcast::channel(1024);
    (Follower::new(provider, db, cfg, tx), rx)
}

/// Run `f` on a task until the returned sender is used (or dropped); the task gives back how
/// the follower ended.
pub(crate) fn run_in_background(
    mut f: Follower,
) -> (tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<modelmart_indexer::Result<()>>) {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        f.run(async move {
            let _ = stopped.await;
        })
        .await
    });
    (stop, task)
}

async fn one(db: &Db, sql: &str) -> eyre::Result<sqlx::any::AnyRow> {
    Ok(sqlx::query(sql).fetch_one(db.pool()).await?)
}

async fn count(db: &Db, sql: &str) -> eyre::Result<i64> {
    Ok(sqlx::query_scalar::<_, i64>(sql).fetch_one(db.pool()).await?)
}

/// Drive the contracts through every event type.
pub(crate) async fn every_event(m: &Market) -> eyre::Result<(u64, u64, u64)> {
    let native = Address::ZERO;
    m.market.setTokenAllowed(*m.usd.address(), true).send().await?.get_receipt().await?;
    m.market.setProtocolFee(200, m.treasury).send().await?.get_receipt().await?;
    m.market
        .setStakeParams(U96::from(ETH), U96::from(ETH / 10))
        .send()
        .await?
        .get_receipt()
        .await?;

    m.register_operator().await?;
    m.market
        .updateOperator("https://op.example".into(), keccak256("x25519 v2"))
        .from(m.operator)
        .send()
        .await?
        .get_receipt()
        .await?;
    m.market.addStake().from(m.operator).value(U256::from(ETH)).send().await?.get_receipt().await?;
    let terms = IModelMarket::OperatorTerms {
        minFeePerRow: U96::from(1),
        minJobDeadline: 600,
        maxRowsPerJob: 64,
        maxRowsPerHour: 1_000,
    };
    m.market.setOperatorTerms(terms).from(m.operator).send().await?.get_receipt().await?;

    let a = m.list(m.listing(native, 1_000)).await?;
    let b = m.list(m.listing(*m.usd.address(), 5_000)).await?;
    let c = m.list(m.listing(native, 7)).await?;
    m.accept(a).await?;
    m.accept(b).await?;
    m.market.declineModel(U256::from(c), 3).from(m.operator).send().await?.get_receipt().await?;
    m.market
        .repriceModel(U256::from(a), U96::from(2_000))
        .from(m.seller)
        .send()
        .await?
        .get_receipt()
        .await?;
    m.market.setModelPaused(U256::from(b), true).from(m.seller).send().await?.get_receipt().await?;
    m.market
        .setModelPaused(U256::from(b), false)
        .from(m.seller)
        .send()
        .await?
        .get_receipt()
        .await?;

    let k1 = keccak256("key 1");
    let k2 = keccak256("key 2");
    // a stranger (the seller) registers the buyer's hash first: a row of its own
    m.market.registerKey(k1, 1).from(m.seller).send().await?.get_receipt().await?;
    m.register_key(k1).await?;
    m.register_key(k2).await?;
    m.market.revokeKey(k2).from(m.buyer).send().await?.get_receipt().await?;

    let j1 = m.request_native(a, k1, 10, "input 1").await?;
    m.submit(j1, "result 1").await?;
    let j2 = m.request_native(a, k1, 3, "input 2").await?;
    m.market.rejectJob(U256::from(j2), 4).from(m.operator).send().await?.get_receipt().await?;
    let j3 = m.request_native(a, k1, 1, "input 3").await?;
    m.warp(3601).await?;
    m.market.refundExpired(U256::from(j3)).from(m.seller).send().await?.get_receipt().await?;
    m.market.withdraw(native).from(m.seller).send().await?.get_receipt().await?;
    m.market.delistModel(U256::from(a)).from(m.seller).send().await?.get_receipt().await?;
    m.market.retireModel(U256::from(b), 9).from(m.operator).send().await?.get_receipt().await?;

    m.market.startUnbonding().from(m.operator).send().await?.get_receipt().await?;
    m.market.cancelUnbonding().from(m.operator).send().await?.get_receipt().await?;
    m.market.startUnbonding().from(m.operator).send().await?.get_receipt().await?;
    m.warp(8 * 86_400 + 1).await?;
    m.market.completeUnbonding().from(m.operator).send().await?.get_receipt().await?;
    Ok((j1, j2, j3))
}

#[tokio::test(flavor = "multi_thread")]
async fn every_event_lands_in_the_right_rows() -> eyre::Result<()> {
    let m = Market::deploy(&[]).await?;
    let (j1, j2, j3) = every_event(&m).await?;
    let seller = format!("{:#x}", m.seller);
    let buyer = format!("{:#x}", m.buyer);
    let operator = format!("{:#x}", m.operator);
    let native = format!("{:#x}", Address::ZERO);

    for tdb in TestDb::both().await? {
        let db = tdb.connect().await?;
        // small ranges so that the run spans many batches and entities change across them
        let (mut f, mut updates) = follower(&m, db.clone(), 3);
        f.catch_up().await?;

        let kinds = count(&db, "SELECT COUNT(DISTINCT kind) FROM events").await?;
        assert_eq!(kinds, 26, "all 26 marketplace event kinds are stored ({:?})", db.backend());
        let cursor = db.cursor().await?.ok_or_else(|| eyre::eyre!("no cursor"))?;
        assert_eq!(cursor.block_number, m.provider.get_block_number().await?);

        // operator: registered, updated, staked, slashed, unbonded twice, exited
        let op = one(&db, "SELECT * FROM operators WHERE superseded_at IS NULL").await?;
        assert_eq!(op.try_get::<String, _>("address")?, operator);
        assert_eq!(op.try_get::<String, _>("endpoint")?, "https://op.example");
        assert_eq!(op.try_get::<String, _>("status")?, "exited");
        assert_eq!(op.try_get::<String, _>("stake")?, "0");
        assert_eq!(
            op.try_get::<String, _>("slashed_total")?,
            "2200",
            "a native job's slash is at most its escrow"
        );
        assert_eq!(op.try_get::<String, _>("min_fee_per_row")?, "1");
        assert_eq!(op.try_get::<i64, _>("min_job_deadline")?, 600);
        assert_eq!(op.try_get::<i64, _>("max_rows_per_job")?, 64);
        assert_eq!(op.try_get::<i64, _>("max_rows_per_hour")?, 1_000);
        assert_eq!(
            count(&db, "SELECT COUNT(*) FROM operators").await?,
            10,
            "one version per operator event"
        );

        // models
        let status = |id: u64| {
            format!("SELECT status FROM models WHERE superseded_at IS NULL AND model_id = {id}")
        };
        let st = |r: sqlx::any::AnyRow| r.try_get::<String, _>("status");
        assert_eq!(st(one(&db, &status(1)).await?)?, "delisted");
        assert_eq!(st(one(&db, &status(2)).await?)?, "delisted");
        assert_eq!(st(one(&db, &status(3)).await?)?, "declined");
        let ma =
            one(&db, "SELECT * FROM models WHERE superseded_at IS NULL AND model_id = 1").await?;
        assert_eq!(ma.try_get::<String, _>("price_per_row")?, "2000");
        assert_eq!(ma.try_get::<String, _>("seller")?, seller);
        assert_eq!(ma.try_get::<String, _>("token")?, native);
        assert_eq!(ma.try_get::<i64, _>("max_rows")?, 64);
        let mc = one(
            &db,
            "SELECT decline_reason FROM models WHERE superseded_at IS NULL AND model_id = 3",
        )
        .await?;
        assert_eq!(mc.try_get::<Option<i64>, _>("decline_reason")?, Some(3));
        let mb = one(
            &db,
            "SELECT decline_reason FROM models WHERE superseded_at IS NULL AND model_id = 2",
        )
        .await?;
        assert_eq!(mb.try_get::<Option<i64>, _>("decline_reason")?, Some(9), "retired");

        // keys
        assert_eq!(
            count(
                &db,
                "SELECT COUNT(*) FROM keys WHERE superseded_at IS NULL AND status = 'active'"
            )
            .await?,
            2,
            "the buyer's k1 and the seller's k1 are two keys"
        );
        assert_eq!(
            count(
                &db,
                "SELECT COUNT(*) FROM keys WHERE superseded_at IS NULL AND status = 'revoked'"
            )
            .await?,
            1
        );

        // jobs: completed with the payout split, rejected with refund, expired with slash
        let job =
            |id: u64| format!("SELECT * FROM jobs WHERE superseded_at IS NULL AND job_id = {id}");
        let r1 = one(&db, &job(j1)).await?;
        assert_eq!(r1.try_get::<String, _>("status")?, "completed");
        assert_eq!(r1.try_get::<String, _>("buyer")?, buyer);
        assert_eq!(r1.try_get::<String, _>("seller")?, seller);
        assert_eq!(r1.try_get::<i64, _>("rows_count")?, 10);
        // 10 rows x (2000 + 200): seller 20000 - 2 % fee, operator 2000 - 2 % fee
        assert_eq!(r1.try_get::<String, _>("seller_paid")?, "19600");
        assert_eq!(r1.try_get::<String, _>("operator_paid")?, "1960");
        assert_eq!(r1.try_get::<String, _>("protocol_fee")?, "440");
        assert_eq!(
            r1.try_get::<String, _>("result_hash")?,
            format!("{:#x}", keccak256("result 1"))
        );
        let r2 = one(&db, &job(j2)).await?;
        assert_eq!(r2.try_get::<String, _>("status")?, "rejected");
        assert_eq!(r2.try_get::<Option<i64>, _>("reason")?, Some(4));
        assert_eq!(r2.try_get::<Option<String>, _>("refund")?.as_deref(), Some("6600"));
        let r3 = one(&db, &job(j3)).await?;
        assert_eq!(r3.try_get::<String, _>("status")?, "expired");
        assert_eq!(r3.try_get::<Option<String>, _>("slashed")?, Some("2200".to_string()));
        assert_eq!(
            count(&db, &format!("SELECT COUNT(*) FROM jobs WHERE job_id = {j1}")).await?,
            2,
            "history"
        );

        // balances: the seller withdrew everything; the buyer holds its refunds (the expired job's
        // slash is burned, paid to nobody)
        let bal = |who: &str| {
            format!(
                "SELECT * FROM balances WHERE superseded_at IS NULL AND account = '{who}' AND token = '{native}'"
            )
        };
        let sb = one(&db, &bal(&seller)).await?;
        assert_eq!(sb.try_get::<String, _>("balance")?, "0");
        assert_eq!(sb.try_get::<String, _>("withdrawn_total")?, "19600");
        let bb = one(&db, &bal(&buyer)).await?;
        let buyer_credit = 6_600 + 2_200;
        assert_eq!(bb.try_get::<String, _>("balance")?, buyer_credit.to_string());
        let onchain = m.market.balanceOf(m.buyer, Address::ZERO).call().await?;
        assert_eq!(onchain, U256::from(buyer_credit), "index agrees with the contract");
        let tb = one(&db, &bal(&format!("{:#x}", m.treasury))).await?;
        let treasury_credit = 440;
        assert_eq!(tb.try_get::<String, _>("balance")?, treasury_credit.to_string());

        // the live stream announced job and model changes
        let mut jobs = 0;
        while let Ok(u) = updates.try_recv() {
            if matches!(u, modelmart_indexer::Update::Job { .. }) {
                jobs += 1;
            }
        }
        assert_eq!(jobs, 6, "3 requests + 3 settlements");

        // idempotent: a second follower over the same database has nothing to do
        let (mut again, _) = follower(&m, db.clone(), 1000);
        again.catch_up().await?;
        assert_eq!(count(&db, "SELECT COUNT(*) FROM jobs").await?, 6);
        db.close().await;
        tdb.cleanup().await?;
    }
    Ok(())
}

/// An operator endpoint with NUL, a backslash, control characters and the maximum length, then
/// two that are not UTF-8 (the contract accepts any 256 bytes): indexed on both backends,
/// equally and losslessly (two endpoints never stored as one), and the index moves on.
#[tokio::test(flavor = "multi_thread")]
async fn hostile_strings_are_stored_on_both_backends() -> eyre::Result<()> {
    let m = Market::deploy(&[]).await?;
    m.register_operator().await?;
    let mut hostile = String::from("https://op\0.example/\\\u{1b}[31m\r\n\u{7f}");
    while hostile.len() < 256 {
        hostile.push('x');
    }
    m.market
        .updateOperator(hostile.clone(), keccak256("x25519 v2"))
        .from(m.operator)
        .send()
        .await?
        .get_receipt()
        .await?;
    // an endpoint that is not UTF-8 at all (a Solidity string holds any bytes): sent as raw
    // calldata, since a Rust String cannot hold it
    let not_utf8 =
        |b: u8| -> Vec<u8> { [b"https://op".as_slice(), &[b, 0xfe], b".example"].concat() };
    let mut endpoints = Vec::new();
    for raw in [not_utf8(0xff), not_utf8(0xc0)] {
        use alloy::sol_types::{SolCall, SolType, sol_data};
        type Params = (sol_data::Bytes, sol_data::FixedBytes<32>);
        let params = Params::abi_encode_params(&(
            alloy::primitives::Bytes::from(raw.clone()),
            keccak256("x25519 v3"),
        ));
        let input =
            [modelmart_bindings::ModelMarket::updateOperatorCall::SELECTOR.as_slice(), &params]
                .concat();
        let tx = alloy::rpc::types::TransactionRequest::default()
            .from(m.operator)
            .to(*m.market.address())
            .input(input.into());
        let receipt = m.provider.send_transaction(tx).await?.get_receipt().await?;
        assert!(receipt.status(), "updateOperator with raw bytes reverted");
        endpoints.push(raw);
    }
    // a second operator registers with such an endpoint from the start
    let stranger = m.node.addresses()[5];
    {
        use alloy::sol_types::{SolCall, SolType, sol_data};
        type Params = (sol_data::Bytes, sol_data::FixedBytes<32>);
        let raw = alloy::primitives::Bytes::from(not_utf8(0x80));
        let params = Params::abi_encode_params(&(raw, keccak256("stranger x25519")));
        let input =
            [modelmart_bindings::ModelMarket::registerOperatorCall::SELECTOR.as_slice(), &params]
                .concat();
        let tx = alloy::rpc::types::TransactionRequest::default()
            .from(stranger)
            .to(*m.market.address())
            .value(U256::from(2 * ETH))
            .input(input.into());
        let receipt = m.provider.send_transaction(tx).await?.get_receipt().await?;
        assert!(receipt.status(), "registerOperator with raw bytes reverted");
    }
    // and the index keeps going past it
    m.market.addStake().from(m.operator).value(U256::from(ETH)).send().await?.get_receipt().await?;
    let head = m.provider.get_block_number().await?;
    let mut stored = Vec::new();
    let mut versions = Vec::new();
    let mut registered = Vec::new();
    for tdb in TestDb::both().await? {
        let db = tdb.connect().await?;
        let (mut f, _) = follower(&m, db.clone(), 1000);
        f.catch_up().await?;
        assert_eq!(db.cursor().await?.map(|c| c.block_number), Some(head), "{:?}", db.backend());
        let sql = format!(
            "SELECT * FROM operators WHERE superseded_at IS NULL AND address = '{:#x}'",
            m.operator
        );
        let op = one(&db, &sql).await?;
        assert_eq!(op.try_get::<String, _>("stake")?, (3 * ETH).to_string());
        stored.push(op.try_get::<String, _>("endpoint")?);
        let sql = format!(
            "SELECT endpoint FROM operators WHERE superseded_at IS NULL AND address = '{stranger:#x}'"
        );
        registered.push(one(&db, &sql).await?.try_get::<String, _>("endpoint")?);
        let rows =
            sqlx::query("SELECT endpoint FROM operators ORDER BY vid").fetch_all(db.pool()).await?;
        versions.push(
            rows.iter()
                .map(|r| r.try_get::<String, _>("endpoint"))
                .collect::<Result<Vec<_>, _>>()?,
        );
        db.close().await;
        tdb.cleanup().await?;
    }
    let want = hostile.replace('\\', "\\\\").replace('\0', "\\0");
    // every version kept apart, byte for byte: the NUL one, then the two non-UTF-8 ones
    let (a, b) = ("https://op\\xff\\xfe.example", "https://op\\xc0\\xfe.example");
    assert_eq!(stored, [b, b], "the current endpoint, on both backends");
    for v in &versions {
        assert!(v.windows(3).any(|w| w == [want.as_str(), a, b]), "{v:?}");
    }
    assert_eq!(versions[0], versions[1], "both backends alike");
    let r = "https://op\\x80\\xfe.example";
    assert_eq!(registered, [r, r], "registered with bytes that are not UTF-8, on both backends");
    assert_eq!(endpoints.len(), 2);
    Ok(())
}

/// An event the database refuses for good (here a constraint the test adds, standing in for any
/// value a backend cannot store): the follower narrows down to the block, then to the event,
/// records it in `skipped_events` with the database's words, and indexes everything after it.
/// Without that, a refused write counted as transient and the batch was retried forever.
#[tokio::test(flavor = "multi_thread")]
async fn an_event_the_database_refuses_is_recorded_and_skipped() -> eyre::Result<()> {
    let m = Market::deploy(&[]).await?;
    m.register_operator().await?;
    m.market
        .updateOperator("https://poison.example".into(), keccak256("x25519 v2"))
        .from(m.operator)
        .send()
        .await?
        .get_receipt()
        .await?;
    m.market.addStake().from(m.operator).value(U256::from(ETH)).send().await?.get_receipt().await?;
    let head = m.provider.get_block_number().await?;
    for tdb in TestDb::both().await? {
        let db = tdb.connect().await?;
        let refuse = match db.backend() {
            modelmart_indexer::Backend::Sqlite => {
                "CREATE TRIGGER no_poison BEFORE INSERT ON operators \
                 WHEN NEW.endpoint LIKE '%poison%' BEGIN SELECT RAISE(ABORT, 'poisoned'); END"
            }
            modelmart_indexer::Backend::Postgres => {
                "ALTER TABLE operators ADD CONSTRAINT no_poison CHECK (endpoint NOT LIKE '%poison%')"
            }
        };
        sqlx::query(refuse).execute(db.pool()).await?;
        let (mut f, _) = follower(&m, db.clone(), 1000);
        let status = f.status();
        tokio::time::timeout(std::time::Duration::from_secs(60), f.catch_up()).await??;
        assert_eq!(db.cursor().await?.map(|c| c.block_number), Some(head), "{:?}", db.backend());
        let skipped = one(&db, "SELECT * FROM skipped_events").await?;
        assert_eq!(skipped.try_get::<String, _>("kind")?, "OperatorUpdated");
        assert!(skipped.try_get::<String, _>("error")?.contains("poison"));
        assert_eq!(
            (db.skipped_events().await?, status.lock().map(|s| s.skipped).ok()),
            (1, Some(1))
        );
        // everything around it is indexed: the registration before, the stake after
        let op = one(&db, "SELECT * FROM operators WHERE superseded_at IS NULL").await?;
        assert_eq!(op.try_get::<String, _>("endpoint")?, "http://127.0.0.1:7070");
        assert_eq!(op.try_get::<String, _>("stake")?, (3 * ETH).to_string());
        db.close().await;
        tdb.cleanup().await?;
    }
    Ok(())
}

/// The set of blob hashes the chain names (what the coprocessor keeps when it expires blobs):
/// every job's input and key, every result, every listing's card and sealed model.
#[tokio::test(flavor = "multi_thread")]
async fn referenced_blobs_name_every_input_key_result_card_and_sealed_model() -> eyre::Result<()> {
    let m = Market::deploy(&[]).await?;
    m.workload(4).await?;
    let tdb = TestDb::sqlite()?;
    let db = tdb.connect().await?;
    let (mut f, _) = follower(&m, db.clone(), 1000);
    f.catch_up().await?;
    let refs = db.referenced_blobs().await?;
    let norm = |h: String| h.trim_start_matches("0x").to_ascii_lowercase();
    let mut want = Vec::new();
    for sql in [
        "SELECT input_hash AS h FROM jobs",
        "SELECT key_hash AS h FROM jobs",
        "SELECT result_hash AS h FROM jobs WHERE result_hash IS NOT NULL",
        "SELECT card_hash AS h FROM models",
        "SELECT sealed_model_hash AS h FROM models",
    ] {
        let rows = sqlx::query(sql).fetch_all(db.pool()).await?;
        assert!(!rows.is_empty(), "{sql}");
        for r in rows {
            want.push(norm(r.try_get::<String, _>("h")?));
        }
    }
    for h in &want {
        assert!(refs.contains(h), "{h} missing");
        assert_eq!(h.len(), 64);
    }
    db.close().await;
    Ok(())
}
