//! `modelmart models`: browse the market without a wallet — listings with their price, name and
//! figures, read from the indexer through the SDK's typed client.

use modelmart_sdk::{
    ModelStatus,
    indexer::{Indexer, ModelQuery, ModelSort},
};
use serde_json::json;

use crate::output::Output;

/// List the market's models.
#[derive(Debug, clap::Args)]
pub(crate) struct ModelsArgs {
    /// The indexer API.
    #[arg(long, env = "MODELMART_INDEXER_URL", default_value = "http://127.0.0.1:8600")]
    indexer: String,
    /// Search in name, task and description.
    #[arg(long)]
    search: Option<String>,
    /// Only listings in this status (`active`, `paused`, `delisted`, `proposed`, `declined`);
    /// default: active.
    #[arg(long, default_value = "active")]
    status: ModelStatus,
    /// Order: newest, oldest, jobs, success-rate, price.
    #[arg(long, value_enum, default_value = "newest")]
    sort: Sort,
    /// How many (1 to 500).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u16).range(1..=500))]
    limit: u16,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum Sort {
    Newest,
    Oldest,
    Jobs,
    SuccessRate,
    Price,
}

pub(crate) async fn run(a: ModelsArgs, out: &Output) -> eyre::Result<()> {
    let sort = match a.sort {
        Sort::Newest => ModelSort::Newest,
        Sort::Oldest => ModelSort::Oldest,
        Sort::Jobs => ModelSort::Jobs,
        Sort::SuccessRate => ModelSort::SuccessRate,
        Sort::Price => ModelSort::Price,
    };
    let query = ModelQuery {
        q: a.search,
        status: Some(a.status),
        sort,
        limit: Some(a.limit),
        ..ModelQuery::default()
    };
    let page = Indexer::new(&a.indexer).models(&query).await?;
    for m in &page.items {
        let l = &m.listing;
        let price = l.price_per_row.saturating_add(l.operator_fee_per_row);
        let name = m.name.clone().unwrap_or_else(|| "(card not fetched yet)".into());
        out.result(
            json!({
                "model_id": l.model_id, "name": m.name, "task": m.task, "status": l.status,
                "token": l.token.to_string(), "price_per_row": price.to_string(),
                "operator": l.operator.to_string(), "jobs": m.stats.jobs_total,
                "success_rate": m.stats.success_rate,
            }),
            || {
                format!(
                    "{:>4}  {name} [{}]  {price}/row (token {})  {} jobs, {:.0} % answered",
                    l.model_id.get(),
                    l.status,
                    l.token,
                    m.stats.jobs_total,
                    m.stats.success_rate * 100.0,
                )
            },
        );
    }
    if page.items.is_empty() {
        out.result(json!({ "models": 0 }), || "no models".into());
    }
    Ok(())
}
