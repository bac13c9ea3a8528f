//! The market among strangers, on anvil with the real contracts, coprocessor and SDK: one named
//! scenario per attack, each asserting that the honest party loses nothing.
//!
//! - `stake_drain_listing_is_refused_before_any_job`: a stranger lists a model naming an
//!   honest operator at fee 0 with a 1-second deadline, to let jobs expire and collect slashes.
//! - `copied_listing_is_declined_and_the_copier_is_never_paid`: a copier re-lists another
//!   seller's card and sealed model under its own address, cheaper.
//! - `key_front_run_does_not_lock_the_buyer_out`: a stranger registers the buyer's evaluation-key
//!   hash first.
//! - `burst_of_200_jobs_at_12_second_blocks_settles_every_job_in_time`: 200 one-row jobs in one
//!   block on a chain making a block every 12 s (anvil's clock driven, not waited for).
//! - `retired_listing_takes_no_jobs_and_its_pending_job_still_settles`: the operator's way out.
//! - `a_job_re_mined_after_a_reorg_is_answered_on_its_own_input`: a reorganization drops an
//!   answered job and another request takes its id.

use std::time::Duration;

use alloy::{
    primitives::{Address, U256, aliases::U96},
    providers::Provider,
};
use modelmart_bindings::IModelMarket;
use modelmart_e2e::{BUYER, OPERATOR, SELLER, Stack, demo_model};
use modelmart_fhe::{CompiledModel, Dataset, params::ParamSetId};
use modelmart_sdk::{
    Buyer, BuyerKeys, Chain, Error, JobStatus, ModelStatus, Operator, OperatorTerms, Payment,
    Seller, Terms, card::ModelCard, dev::ETH, reasons,
};

const MINUTE: Duration = Duration::from_secs(60);
/// An account that is neither operator, seller nor buyer.
const STRANGER: usize = 5;

fn terms(stack: &Stack, fee: u128, deadline: u32) -> Terms {
    Terms {
        operator: stack.address(OPERATOR),
        token: Address::ZERO,
        price_per_row: ETH / 1_000,
        operator_fee_per_row: fee,
        max_rows: 8,
        job_deadline: deadline,
    }
}

/// The logistic-regression demo listed by the seller (native coin, `deadline` s) and accepted.
async fn listed(
    stack: &Stack,
    deadline: u32,
) -> eyre::Result<(Seller, modelmart_sdk::Published, CompiledModel, ModelCard, Dataset)> {
    let (model, card, test) = demo_model("logreg_breast_cancer", "breast_cancer", 0)?;
    let seller = Seller::new(stack.chain(SELLER).await?)?;
    let published = seller.publish(&model, &card, &terms(stack, ETH / 5_000, deadline)).await?;
    seller.wait_accepted(published.model_id, MINUTE).await?;
    Ok((seller, published, model, card, test))
}

/// A listing of `card` and `sealed` naming the stack's operator, native coin, 8 rows, 600 s,
/// parameter set 1, output mode 0: for calls straight to the contract (no SDK check between).
fn raw_listing(
    stack: &Stack,
    card: alloy::primitives::B256,
    sealed: alloy::primitives::B256,
    price: u128,
    fee: u128,
) -> IModelMarket::Listing {
    IModelMarket::Listing {
        operator: stack.address(OPERATOR),
        token: Address::ZERO,
        pricePerRow: U96::from(price),
        operatorFeePerRow: U96::from(fee),
        cardHash: card,
        sealedModelHash: sealed,
        paramSet: 1,
        maxRows: 8,
        jobDeadline: 600,
        outputMode: 0,
    }
}

/// The listing a `listModel` receipt made.
fn listed_id(r: &alloy::rpc::types::TransactionReceipt) -> eyre::Result<modelmart_sdk::ModelId> {
    let ev = r
        .decoded_log::<modelmart_bindings::ModelMarket::ModelListed>()
        .ok_or_else(|| eyre::eyre!("no ModelListed"))?;
    Ok(modelmart_sdk::ModelId::try_from(ev.modelId)?)
}

async fn stake(stack: &Stack) -> eyre::Result<U256> {
    let op = Operator::new(stack.chain(SELLER).await?);
    Ok(op.info(stack.address(OPERATOR)).await?.stake)
}

async fn rpc(chain: &Chain, method: &'static str, params: serde_json::Value) -> eyre::Result<()> {
    chain.provider().raw_request::<_, serde_json::Value>(method.into(), params).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn stake_drain_listing_is_refused_before_any_job() -> eyre::Result<()> {
    let stack = Stack::start().await?;
    let operator = Operator::new(stack.chain(OPERATOR).await?);
    let min_fee = ETH / 10_000;
    operator
        .set_terms(&OperatorTerms {
            min_fee_per_row: min_fee,
            min_job_deadline: 300,
            max_rows_per_job: 8,
            max_rows_per_hour: 10_000,
        })
        .await?;
    let before = stake(&stack).await?;
    let (model, card, _) = demo_model("logreg_breast_cancer", "breast_cancer", 0)?;
    let attacker = Seller::new(stack.chain(STRANGER).await?)?;
    // the protocol's minimum deadline, then the operator's own terms, refuse the listing before
    // a single blob is uploaded or job requested
    for (t, why) in [
        (terms(&stack, 0, 1), "1-second deadline"),
        (terms(&stack, min_fee, 60), "below the operator's minimum deadline"),
        (terms(&stack, 0, 600), "fee 0"),
    ] {
        let got = attacker.publish(&model, &card, &t).await;
        assert!(matches!(got, Err(Error::Invalid(_) | Error::Reverted { .. })), "{why}: {got:?}");
    }
    // the same listing straight to the contract (no SDK check in between) reverts
    let chain = stack.chain(STRANGER).await?;
    let listing = IModelMarket::Listing {
        jobDeadline: 1,
        ..raw_listing(&stack, card.hash().into(), card.hash().into(), 0, 0)
    };
    let err = chain.send("listModel", chain.market().listModel(listing)).await.err();
    assert!(matches!(err, Some(Error::Reverted { .. })), "{err:?}");
    assert_eq!(stake(&stack).await?, before, "the operator's stake is untouched");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn copied_listing_is_declined_and_the_copier_is_never_paid() -> eyre::Result<()> {
    let stack = Stack::start().await?;
    let (_, original, model, card, _) = listed(&stack, 600).await?;

    // the copier takes the public card and sealed model and lists them under its own address,
    // at a tenth of the price
    let copier = stack.chain(STRANGER).await?;
    let listing = IModelMarket::Listing {
        paramSet: model.param_set.0,
        outputMode: card.output_mode.code(),
        ..raw_listing(&stack, original.card_hash, original.sealed_hash, ETH / 10_000, ETH / 5_000)
    };
    let r = copier.send("listModel", copier.market().listModel(listing)).await?;
    let copy = listed_id(&r)?;
    let as_copier = Seller::new(copier.clone())?;
    let declined = as_copier
        .wait_accepted(copy, MINUTE)
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(declined.contains(&format!("reason {}", reasons::CARD_ELSEWHERE)), "{declined}");
    assert_eq!(as_copier.status(copy).await?, ModelStatus::Declined);

    // a card of its own, naming the copier's listing, does not help: the sealed model is bound
    // to the original card and seller and does not open
    let ctx = copier.seal_context(stack.address(STRANGER), stack.address(OPERATOR)).await?;
    let forged = card.clone().for_listing(&ctx);
    let blobs = modelmart_sdk::blobs::BlobClient::new()?;
    let forged_hash =
        blobs.put(&stack.endpoint, modelmart_sdk::BlobKind::Card, forged.to_bytes()).await?;
    let listing = IModelMarket::Listing {
        paramSet: model.param_set.0,
        outputMode: card.output_mode.code(),
        ..raw_listing(&stack, forged_hash, original.sealed_hash, ETH / 10_000, ETH / 5_000)
    };
    let r = copier.send("listModel", copier.market().listModel(listing)).await?;
    let forged_copy = listed_id(&r)?;
    let declined = as_copier
        .wait_accepted(forged_copy, MINUTE)
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(declined.contains(&format!("reason {}", reasons::CANNOT_OPEN)), "{declined}");

    // nobody can buy the copy; the original still sells, and pays the original seller
    let mut buyer = Buyer::new(stack.chain(BUYER).await?, BuyerKeys::generate(ParamSetId(1))?)?;
    let info = buyer.model(original.model_id).await?;
    let key = buyer.ensure_key(&info).await?;
    let rows: Vec<Vec<f64>> = vec![vec![0.0; info.card.model.schema.features.len()]];
    let input = buyer.upload_rows(&info, &rows).await?;
    let copy_info = buyer.model(copy).await?;
    let refused = buyer.request(&copy_info, input, key, 1, None, Payment::Auto).await;
    assert!(matches!(refused, Err(Error::ModelUnavailable { .. })), "{refused:?}");
    let job = buyer.request(&info, input, key, 1, None, Payment::Auto).await?;
    buyer.result(&info, &job).await?;
    let market = copier.market();
    assert_eq!(market.balanceOf(stack.address(STRANGER), Address::ZERO).call().await?, U256::ZERO);
    assert!(market.balanceOf(stack.address(SELLER), Address::ZERO).call().await? > U256::ZERO);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn key_front_run_does_not_lock_the_buyer_out() -> eyre::Result<()> {
    let stack = Stack::start().await?;
    let (_, published, model, card, test) = listed(&stack, 600).await?;
    let id = published.model_id;

    let mut keys = BuyerKeys::generate(ParamSetId(1))?;
    let (_, key_hash) = keys.key_for(&card.model)?;
    // the stranger sees the hash (it is public once uploaded) and registers it first
    let stranger = stack.chain(STRANGER).await?;
    stranger.send("registerKey", stranger.market().registerKey(key_hash, 1)).await?;

    let mut buyer = Buyer::new(stack.chain(BUYER).await?, keys)?;
    let info = buyer.model(id).await?;
    let key = buyer.ensure_key(&info).await?;
    assert_eq!(key, key_hash);
    let rows: Vec<Vec<f64>> = test.x[..2].to_vec();
    let input = buyer.upload_rows(&info, &rows).await?;
    let job = buyer.request(&info, input, key, 2, None, Payment::Auto).await?;
    let p = buyer.result(&info, &job).await?;
    assert_eq!(p.raw, rows.iter().map(|r| model.predict_clear(r)).collect::<Result<Vec<_>, _>>()?);
    // the stranger's registration cannot be used against the buyer either: revoking its own
    // row leaves the buyer's in place
    stranger.send("revokeKey", stranger.market().revokeKey(key_hash)).await?;
    let mine = stranger.market().getKey(stack.address(BUYER), key_hash).call().await?;
    assert!(mine.registered && !mine.revoked);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn burst_of_200_jobs_at_12_second_blocks_settles_every_job_in_time() -> eyre::Result<()> {
    const JOBS: usize = 200;
    let stack = Stack::start_with(&[], 8).await?;
    // the shortest deadline a listing may have: five 12-second blocks
    let (_, published, _, _, test) = listed(&stack, 60).await?;
    let id = published.model_id;
    let buyer_chain = stack.chain(BUYER).await?;
    let mut buyer = Buyer::new(buyer_chain.clone(), BuyerKeys::generate(ParamSetId(1))?)?;
    let info = buyer.model(id).await?;
    let key = buyer.ensure_key(&info).await?;
    let row: Vec<Vec<f64>> = test.x[..1].to_vec();
    let input = buyer.upload_rows(&info, &row).await?;
    let price = buyer_chain.market().quote(id.to_u256(), 1).call().await?;

    // every request goes into the pool, then into one block
    rpc(&buyer_chain, "evm_setAutomine", serde_json::json!([false])).await?;
    rpc(&buyer_chain, "anvil_setBlockTimestampInterval", serde_json::json!([12])).await?;
    let request = IModelMarket::JobRequest {
        modelId: id.get(),
        inputHash: input,
        keyHash: key,
        rows: 1,
        maxTotalPrice: price,
    };
    for _ in 0..JOBS {
        let _pending = buyer_chain
            .market()
            .requestJob(request.clone())
            .value(price)
            .from(stack.address(BUYER))
            .gas(300_000)
            .send()
            .await?;
    }
    rpc(&buyer_chain, "evm_mine", serde_json::json!([])).await?;
    let first = buyer_chain.market().nextJobId().call().await? - JOBS as u64;

    // a block every 12 s of chain time, mined every second of ours, until every job is settled
    // or far past its deadline
    let mut settled = 0;
    for _ in 0..30 {
        tokio::time::sleep(Duration::from_millis(1_000)).await;
        rpc(&buyer_chain, "evm_mine", serde_json::json!([])).await?;
        settled = 0;
        for j in first..first + JOBS as u64 {
            let job = buyer_chain.market().getJob(U256::from(j)).call().await?;
            if job.status != JobStatus::Requested as u8 {
                settled += 1;
            }
        }
        if settled == JOBS {
            break;
        }
    }
    rpc(&buyer_chain, "evm_setAutomine", serde_json::json!([true])).await?;
    let mut by_status = std::collections::BTreeMap::<String, usize>::new();
    for j in first..first + JOBS as u64 {
        let job = buyer_chain.market().getJob(U256::from(j)).call().await?;
        *by_status.entry(JobStatus::from_code(job.status)?.to_string()).or_default() += 1;
    }
    println!("{JOBS} jobs in one block at 12-second blocks: {by_status:?}");
    assert_eq!(settled, JOBS, "{by_status:?}");
    assert_eq!(by_status.get("expired"), None, "no job expired: {by_status:?}");
    assert_eq!(
        by_status.get("completed").copied().unwrap_or(0)
            + by_status.get("rejected").copied().unwrap_or(0),
        JOBS
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn retired_listing_takes_no_jobs_and_its_pending_job_still_settles() -> eyre::Result<()> {
    let mut stack = Stack::start().await?;
    let (seller, published, _, _, test) = listed(&stack, 600).await?;
    let id = published.model_id;
    let mut buyer = Buyer::new(stack.chain(BUYER).await?, BuyerKeys::generate(ParamSetId(1))?)?;
    let info = buyer.model(id).await?;
    let key = buyer.ensure_key(&info).await?;
    let row: Vec<Vec<f64>> = test.x[..1].to_vec();
    let input = buyer.upload_rows(&info, &row).await?;
    // a job requested while the coprocessor is down stays pending across the retirement
    stack.stop_coprocessor().await?;
    let chain = stack.chain(BUYER).await?;
    let price = chain.market().quote(id.to_u256(), 1).call().await?;
    let request = IModelMarket::JobRequest {
        modelId: id.get(),
        inputHash: input,
        keyHash: key,
        rows: 1,
        maxTotalPrice: price,
    };
    let r = chain.send("requestJob", chain.market().requestJob(request).value(price)).await?;
    let job_id = r
        .decoded_log::<modelmart_bindings::ModelMarket::JobRequested>()
        .ok_or_else(|| eyre::eyre!("no JobRequested"))?
        .jobId;
    Operator::new(stack.chain(OPERATOR).await?).retire(id, reasons::MODEL_UNAVAILABLE).await?;
    assert_eq!(seller.status(id).await?, ModelStatus::Delisted);
    stack.start_coprocessor();
    stack.wait_healthy().await?;
    let info = buyer.model(id).await?;
    let refused = buyer.request(&info, input, key, 1, None, Payment::Auto).await;
    assert!(matches!(refused, Err(Error::ModelUnavailable { .. })), "{refused:?}");
    let end = chain.wait_job(modelmart_sdk::JobId::try_from(job_id)?, 0, MINUTE).await?;
    assert!(matches!(end, modelmart_sdk::JobEnd::Completed { .. }), "{end:?}");
    Ok(())
}

/// A job is answered, then a reorganization drops the request and its answer, and the buyer's
/// next request (another input) is mined under the same job id: the operator answers the new
/// request on its own input. Without a queue that tells requests apart by their transaction the
/// job stays "completed" in the queue, is never answered and expires (a slash of an honest
/// operator), or is answered with the old request's result.
#[tokio::test(flavor = "multi_thread")]
async fn a_job_re_mined_after_a_reorg_is_answered_on_its_own_input() -> eyre::Result<()> {
    let stack = Stack::start().await?;
    let (_, published, model, _, test) = listed(&stack, 600).await?;
    let chain = stack.chain(BUYER).await?;
    let mut buyer = Buyer::new(chain.clone(), BuyerKeys::generate(ParamSetId(1))?)?;
    let info = buyer.model(published.model_id).await?;
    let key = buyer.ensure_key(&info).await?;
    // two rows the model tells apart
    let first = test.x[0].clone();
    let want_first = model.predict_clear(&first)?;
    let mut second = None;
    for row in &test.x {
        if model.predict_clear(row)? != want_first {
            second = Some(row.clone());
            break;
        }
    }
    let second = second.ok_or_else(|| eyre::eyre!("every test row has the same prediction"))?;
    let input_a = buyer.upload_rows(&info, std::slice::from_ref(&first)).await?;
    let input_b = buyer.upload_rows(&info, std::slice::from_ref(&second)).await?;

    let snapshot: serde_json::Value =
        chain.provider().raw_request("evm_snapshot".into(), serde_json::json!([])).await?;
    let a = buyer.request(&info, input_a, key, 1, None, Payment::Auto).await?;
    assert_eq!(buyer.result(&info, &a).await?.raw, vec![want_first]);

    // the chain reorganizes to before the request: request and answer are gone
    rpc(&chain, "evm_revert", serde_json::json!([snapshot])).await?;
    assert_eq!(chain.job_status(a.job_id).await?, JobStatus::None);
    let b = buyer.request(&info, input_b, key, 1, None, Payment::Auto).await?;
    assert_eq!(b.job_id, a.job_id, "the id is re-mined by another request");
    let answered = tokio::time::timeout(MINUTE, buyer.result(&info, &b)).await;
    let got = answered.map_err(|_| eyre::eyre!("the re-mined job was never answered"))??;
    assert_eq!(got.raw, vec![model.predict_clear(&second)?], "answered on its own input");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn listing_spam_does_not_delay_job_intake() -> eyre::Result<()> {
    const SPAM: usize = 64;
    // a block a second: every accept or decline waits for one
    let stack = Stack::start_with(&["--block-time", "1"], 2).await?;
    let (_, published, model, _, test) = listed(&stack, 600).await?;
    let mut buyer = Buyer::new(stack.chain(BUYER).await?, BuyerKeys::generate(ParamSetId(1))?)?;
    let info = buyer.model(published.model_id).await?;
    let key = buyer.ensure_key(&info).await?;
    let row: Vec<Vec<f64>> = test.x[..1].to_vec();
    let input = buyer.upload_rows(&info, &row).await?;

    // a stranger proposes 64 listings naming the operator, with nothing behind them
    let spammer = stack.chain(STRANGER).await?;
    for i in 0..SPAM {
        let junk = alloy::primitives::keccak256(format!("junk {i}"));
        let listing = raw_listing(&stack, junk, junk, 0, 0);
        let _pending = spammer
            .market()
            .listModel(listing)
            .from(stack.address(STRANGER))
            .gas(400_000)
            .send()
            .await?;
    }
    // the buyer's job, requested right behind them, is answered while they are still declined
    let started = std::time::Instant::now();
    let job = buyer.request(&info, input, key, 1, None, Payment::Auto).await?;
    let p = buyer.result(&info, &job).await?;
    let waited = started.elapsed();
    assert_eq!(p.raw, vec![model.predict_clear(&row[0])?]);
    println!("job answered {waited:?} after {SPAM} spam listings");
    assert!(waited < Duration::from_secs(20), "job intake waited for the listings: {waited:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn listings_the_operator_cannot_serve_in_time_or_on_its_terms_are_declined()
-> eyre::Result<()> {
    let mut stack = Stack::start().await?;
    let seller = Seller::new(stack.chain(SELLER).await?)?;
    // a depth-5 tree bootstraps ~55 times a row: 4,096 rows cannot finish in 60 s on this
    // machine, so the operator declines instead of taking jobs it would let expire
    let (tree, tree_card, _) = demo_model("tree5_breast_cancer", "breast_cancer", 0)?;
    let slow = Terms { max_rows: 4_096, ..terms(&stack, ETH / 5_000, 60) };
    let id = seller.publish(&tree, &tree_card, &slow).await?.model_id;
    let declined = seller.wait_accepted(id, MINUTE).await.err().map(|e| e.to_string());
    assert!(declined.unwrap_or_default().contains(&format!("reason {}", reasons::TOO_SLOW)));

    // a listing made before the operator raised its fee: declined, not served at the old fee
    let (model, card, _) = demo_model("logreg_breast_cancer", "breast_cancer", 0)?;
    let chain = stack.chain(SELLER).await?;
    let blobs = modelmart_sdk::blobs::BlobClient::new()?;
    let ctx = chain.seal_context(stack.address(SELLER), stack.address(OPERATOR)).await?;
    let card = card.for_listing(&ctx);
    let card_hash =
        blobs.put(&stack.endpoint, modelmart_sdk::BlobKind::Card, card.to_bytes()).await?;
    let x25519 = Operator::new(chain.clone()).info(stack.address(OPERATOR)).await?.x25519_key;
    let sealed = modelmart_sdk::seal::seal(&model.to_json()?, &x25519.0, &card_hash.0, &ctx)?;
    let sealed_hash =
        blobs.put(&stack.endpoint, modelmart_sdk::BlobKind::SealedModel, sealed).await?;
    stack.stop_coprocessor().await?;
    let listing = IModelMarket::Listing {
        paramSet: model.param_set.0,
        outputMode: card.output_mode.code(),
        ..raw_listing(&stack, card_hash, sealed_hash, ETH / 1_000, ETH / 5_000)
    };
    let r = chain.send("listModel", chain.market().listModel(listing)).await?;
    let id = listed_id(&r)?;
    Operator::new(stack.chain(OPERATOR).await?)
        .set_terms(&OperatorTerms {
            min_fee_per_row: ETH / 1_000,
            min_job_deadline: 60,
            max_rows_per_job: 64,
            max_rows_per_hour: u32::MAX,
        })
        .await?;
    stack.start_coprocessor();
    stack.wait_healthy().await?;
    let declined = seller.wait_accepted(id, MINUTE).await.err().map(|e| e.to_string());
    assert!(
        declined
            .as_deref()
            .unwrap_or_default()
            .contains(&format!("reason {}", reasons::OUTSIDE_TERMS)),
        "{declined:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_coprocessor_with_a_lost_x25519_key_refuses_to_start() -> eyre::Result<()> {
    let stack = Stack::start().await?;
    // the data folder was lost: a fresh one makes a new X25519 key
    let fresh = tempfile::tempdir()?;
    let mut args = stack.coprocessor_args();
    args.x25519_key = None;
    args.data_dir = fresh.path().to_path_buf();
    args.blob_store = None;
    args.listen.addr = "127.0.0.1:0".parse()?;
    let run = modelmart_coprocessor::service::run(args.clone(), None, std::future::pending());
    let refused = tokio::time::timeout(MINUTE, run).await?;
    let msg = refused.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(msg.contains("X25519 key"), "{msg}");
    let before = Operator::new(stack.chain(SELLER).await?).info(stack.address(OPERATOR)).await?;
    // told to rotate, it registers the new key and serves
    args.rotate_x25519 = true;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(modelmart_coprocessor::service::run(args, None, async {
        let _ = rx.await;
    }));
    let op = Operator::new(stack.chain(SELLER).await?);
    let t = std::time::Instant::now();
    while op.info(stack.address(OPERATOR)).await?.x25519_key == before.x25519_key {
        eyre::ensure!(t.elapsed() < MINUTE, "the key was not rotated");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = tx.send(());
    serving.await??;
    Ok(())
}
