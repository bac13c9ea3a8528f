//! `modelmart model ID`: a listing's terms, status and verified card.

use modelmart_fhe::model::Task;
use modelmart_sdk::{ModelId, ModelInfo, blobs::BlobClient};
use serde_json::json;

use super::chain::ChainOpts;
use crate::output::Output;

/// Show a listing.
#[derive(Debug, clap::Args)]
pub(crate) struct ModelArgs {
    /// Listing id.
    id: ModelId,
    #[command(flatten)]
    chain: ChainOpts,
}

pub(crate) async fn run(a: ModelArgs, out: &Output) -> eyre::Result<()> {
    let chain = a.chain.connect().await?;
    let m = ModelInfo::fetch(&chain, &BlobClient::new()?, a.id).await?;
    let quote = chain.market().quote(a.id.to_u256(), 1).call().await.ok();
    let labels = match &m.card.model.task {
        Task::Classification { labels } => labels.join(", "),
        Task::Regression => match &m.card.unit {
            Some(unit) => format!("regression, in {unit}"),
            None => "regression".into(),
        },
    };
    out.result(
        json!({
            "model_id": a.id, "status": m.status, "operator": m.listing.operator.to_string(),
            "endpoint": m.endpoint, "token": m.listing.token.to_string(),
            "price_per_row": quote.map(|q| q.to_string()), "max_rows": m.listing.maxRows,
            "job_deadline_s": m.listing.jobDeadline, "card": m.card,
        }),
        || {
            format!(
                "model {} — {} [{}]\n  {}\n  outputs: {labels}\n  features ({}): {}\n  accuracy: {} float {:.3}, quantized {:.3}, FHE agreement {}\n  cost: {} bootstraps/row, ~{:.1} ms/row, evaluation key {}\n  price per row: {} (token {})\n  operator {} at {}\n  output: {:?} — {}\n  results: {}",
                a.id, m.card.name, m.status, m.card.description,
                m.card.model.schema.len(),
                m.card.model.schema.features.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(", "),
                m.card.accuracy.metric, m.card.accuracy.float, m.card.accuracy.quantized,
                m.card.accuracy.fhe_agreement.map_or("not measured".into(), |a| format!("{a:.2} on {} rows", m.card.accuracy.fhe_rows)),
                m.card.cost.bootstraps_per_row, m.card.cost.expected_ms_per_row,
                if m.card.cost.evaluation_key { "needed" } else { "not needed (public key only)" },
                quote.map(|q| q.to_string()).unwrap_or_else(|| "-".into()), m.listing.token,
                m.listing.operator, m.endpoint, m.card.output_mode, m.card.leakage,
                m.card.model.result_privacy(),
            )
        },
    );
    Ok(())
}
