//! Live statistics per model and per operator, recomputed from the jobs table when the index
//! moves (at most once per refresh interval) and served from memory, so the model list costs no
//! aggregate query per request.

use std::collections::HashMap;

use alloy::primitives::U256;
use serde::Serialize;
use sqlx::Row;
use utoipa::ToSchema;

use crate::{Db, Result, apply::parse_amount};

/// Job figures of a model or an operator.
#[derive(Clone, Debug, Default, PartialEq, Serialize, ToSchema)]
pub struct JobStats {
    /// Jobs requested.
    pub jobs_total: u64,
    /// Jobs answered with a result.
    pub jobs_completed: u64,
    /// Jobs the operator rejected.
    pub jobs_rejected: u64,
    /// Jobs that expired unanswered.
    pub jobs_expired: u64,
    /// Jobs still waiting.
    pub jobs_pending: u64,
    /// Completed / settled jobs (1.0 when nothing settled yet).
    pub success_rate: f64,
    /// Median seconds from request to result over completed jobs.
    pub median_latency_s: Option<f64>,
    /// Net amount paid out to the seller (models) or the operator (operators), per token.
    pub earnings: HashMap<String, String>,
}

/// Statistics for every model and operator.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// By model id.
    pub models: HashMap<i64, JobStats>,
    /// By operator address.
    pub operators: HashMap<String, JobStats>,
    /// The indexed block these figures reflect.
    pub block: Option<u64>,
}

#[derive(Default)]
struct Acc {
    stats: JobStats,
    latencies: Vec<i64>,
    earnings: HashMap<String, U256>,
}

impl Acc {
    fn add(&mut self, status: &str, token: &str, paid: Option<&str>, latency: Option<i64>) {
        let s = &mut self.stats;
        s.jobs_total += 1;
        match status {
            "completed" => {
                s.jobs_completed += 1;
                if let Some(l) = latency {
                    self.latencies.push(l);
                }
                if let Some(p) = paid {
                    let e = self.earnings.entry(token.to_owned()).or_default();
                    *e = e.saturating_add(parse_amount(p));
                }
            }
            "rejected" => s.jobs_rejected += 1,
            "expired" => s.jobs_expired += 1,
            _ => s.jobs_pending += 1,
        }
    }

    fn finish(mut self) -> JobStats {
        let settled =
            self.stats.jobs_completed + self.stats.jobs_rejected + self.stats.jobs_expired;
        self.stats.success_rate =
            if settled == 0 { 1.0 } else { self.stats.jobs_completed as f64 / settled as f64 };
        self.latencies.sort_unstable();
        let n = self.latencies.len();
        self.stats.median_latency_s = match n {
            0 => None,
            _ if n % 2 == 1 => Some(self.latencies[n / 2] as f64),
            _ => Some((self.latencies[n / 2 - 1] + self.latencies[n / 2]) as f64 / 2.0),
        };
        self.stats.earnings = self.earnings.into_iter().map(|(k, v)| (k, v.to_string())).collect();
        self.stats
    }
}

impl Stats {
    /// Recompute from the current job rows.
    pub async fn compute(db: &Db) -> Result<Self> {
        let block = db.cursor().await?.map(|c| c.block_number);
        let rows = sqlx::query(
            "SELECT model_id, operator, token, status, seller_paid, operator_paid, requested_at, settled_at \
             FROM jobs WHERE superseded_at IS NULL",
        )
        .fetch_all(db.pool())
        .await?;
        let mut models: HashMap<i64, Acc> = HashMap::new();
        let mut operators: HashMap<String, Acc> = HashMap::new();
        for r in &rows {
            let model: i64 = r.try_get("model_id")?;
            let operator: String = r.try_get("operator")?;
            let token: String = r.try_get("token")?;
            let status: String = r.try_get("status")?;
            let seller_paid: Option<String> = r.try_get("seller_paid")?;
            let operator_paid: Option<String> = r.try_get("operator_paid")?;
            let requested: i64 = r.try_get("requested_at")?;
            let settled: Option<i64> = r.try_get("settled_at")?;
            let latency = settled.map(|s| s - requested);
            models.entry(model).or_default().add(&status, &token, seller_paid.as_deref(), latency);
            operators.entry(operator).or_default().add(
                &status,
                &token,
                operator_paid.as_deref(),
                latency,
            );
        }
        Ok(Self {
            models: models.into_iter().map(|(k, a)| (k, a.finish())).collect(),
            operators: operators.into_iter().map(|(k, a)| (k, a.finish())).collect(),
            block,
        })
    }
}
