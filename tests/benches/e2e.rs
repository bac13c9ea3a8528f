//! End-to-end figures on anvil with 1-second blocks (BENCHMARKS.md):
//! - latency of one inference, request mined -> result decrypted, split into FHE evaluation
//!   (re-measured here on the same input), waiting for the result on chain, and download +
//!   decryption; for the linear and the tree demo models;
//! - throughput of one coprocessor draining 50 queued jobs, with 2 and with 8 workers.
//!
//! `cargo bench -p modelmart-e2e --bench e2e` (`make bench-e2e`). Run by `cargo test` (no
//! `--bench` argument) it does a smoke pass: 2 samples, 6 queued jobs.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use modelmart_e2e::{BUYER, OPERATOR, SELLER, Stack, demo_model};
use modelmart_fhe::{EncryptedInput, Evaluator, ServerKey, params::ParamSetId};
use modelmart_sdk::{Buyer, BuyerKeys, Payment, Seller, Terms, dev::ETH};
use serde_json::json;

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[allow(clippy::print_stdout)]
fn main() -> eyre::Result<()> {
    let full = std::env::args().any(|a| a == "--bench");
    let (samples, queued) = if full { (10, 50) } else { (2, 6) };
    tokio::runtime::Runtime::new()?.block_on(async move {
        for workers in [2, 8] {
            let stack = Stack::start_with(&["--block-time", "1"], workers).await?;
            let seller = Seller::new(stack.chain(SELLER).await?)?;
            let terms = Terms {
                operator: stack.address(OPERATOR),
                token: alloy::primitives::Address::ZERO,
                price_per_row: ETH / 1_000,
                operator_fee_per_row: ETH / 5_000,
                max_rows: 8,
                job_deadline: 600,
            };
            let mut buyer = Buyer::new(stack.chain(BUYER).await?.with_timing(Duration::from_secs(60), Duration::from_millis(50)), BuyerKeys::generate(ParamSetId(1))?)?;
            let models = [("logreg_breast_cancer", "linear"), ("tree5_breast_cancer", "tree depth 5")];
            let mut ids = Vec::new();
            for (name, _) in models {
                let (compiled, card, test) = demo_model(name, "breast_cancer", 0)?;
                let id = seller.publish(&compiled, &card, &terms).await?.model_id;
                seller.wait_accepted(id, Duration::from_secs(60)).await?;
                ids.push((id, compiled, test));
            }
            if workers == 2 {
                for ((id, compiled, test), (_, label)) in ids.iter().zip(models) {
                    let model = buyer.model(*id).await?;
                    let key = buyer.ensure_key(&model).await?;
                    let (bytes, _) = buyer.keys_mut().key_for(&compiled.public())?;
                    let server = ServerKey::expand(&modelmart_fhe::EvaluationKey::from_bytes(bytes)?)?;
                    let (mut total, mut eval, mut wait, mut fetch) = (vec![], vec![], vec![], vec![]);
                    let mut next_block = 0;
                    for i in 0..samples {
                        let row = &test.x[i..=i];
                        let input = buyer.upload_rows(&model, row).await?;
                        let job = buyer.request(&model, input, key, 1, None, Payment::Auto).await?;
                        let mined = Instant::now();
                        let end = buyer.chain().wait_job(job.job_id, job.block, Duration::from_secs(120)).await?;
                        let seen = Instant::now();
                        let p = buyer.result(&model, &job).await?;
                        let done = Instant::now();
                        eyre::ensure!(matches!(end, modelmart_sdk::JobEnd::Completed { .. }));
                        if completed_block(&buyer, job.job_id).await? == job.block + 1 {
                            next_block += 1;
                        }
                        eyre::ensure!(p.raw[0] == compiled.predict_clear(&row[0])?, "wrong result");
                        // the FHE part, re-measured on the same ciphertext
                        let enc: EncryptedInput = buyer.keys().client().encrypt_rows(&model.card.model, row)?;
                        let t = Instant::now();
                        Evaluator::new(compiled, Some(&server))?.evaluate(&enc, 8)?;
                        eval.push(t.elapsed().as_secs_f64() * 1e3);
                        total.push((done - mined).as_secs_f64() * 1e3);
                        wait.push((seen - mined).as_secs_f64() * 1e3);
                        fetch.push((done - seen).as_secs_f64() * 1e3);
                    }
                    let (t, e) = (median(&mut total), median(&mut eval));
                    println!("{}", json!({
                        "figure": "latency, request mined -> result decrypted", "model": label, "samples": samples,
                        "block_time_s": 1, "median_total_ms": t.round(), "median_fhe_eval_ms": e.round(),
                        "median_wait_result_on_chain_ms": median(&mut wait).round(),
                        "median_download_decrypt_ms": median(&mut fetch).round(),
                        "overhead_beyond_fhe_ms": (t - e).round(),
                        "results_in_the_next_block": format!("{next_block}/{samples}"),
                    }));
                }
            }
            // throughput: `queued` linear jobs requested at once
            let (id, _, test) = &ids[0];
            let model = buyer.model(*id).await?;
            let key = buyer.ensure_key(&model).await?;
            let input = buyer.upload_rows(&model, &test.x[..1]).await?;
            let requests = (0..queued).map(|_| buyer.request(&model, input, key, 1, None, Payment::Auto));
            let jobs = join_all(requests).await.into_iter().collect::<Result<Vec<_>, _>>()?;
            let start = Instant::now();
            for j in &jobs {
                buyer.chain().wait_job(j.job_id, j.block, Duration::from_secs(300)).await?;
            }
            let secs = start.elapsed().as_secs_f64();
            println!("{}", json!({
                "figure": "throughput, one coprocessor, queued linear jobs", "workers": workers, "jobs": queued,
                "block_time_s": 1, "seconds_after_last_request_mined": (secs * 10.0).round() / 10.0,
                "jobs_per_s": ((queued as f64 / secs) * 100.0).round() / 100.0,
            }));
        }
        Ok(())
    })
}

/// Block of job `job_id`'s `JobCompleted` event.
async fn completed_block(buyer: &Buyer, job_id: modelmart_sdk::JobId) -> eyre::Result<u64> {
    use alloy::{providers::Provider, rpc::types::Filter, sol_types::SolEvent};
    let filter = Filter::new()
        .address(*buyer.chain().market().address())
        .event_signature(modelmart_bindings::ModelMarket::JobCompleted::SIGNATURE_HASH)
        .topic1(alloy::primitives::B256::from(job_id.to_u256()))
        .from_block(0);
    let logs = buyer.chain().provider().get_logs(&filter).await?;
    logs.first()
        .and_then(|l| l.block_number)
        .ok_or_else(|| eyre::eyre!("no JobCompleted for job {job_id}"))
}
