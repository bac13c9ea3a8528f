//! Decoding contract logs and applying them to the state tables, one file per event family:
//! `operators`, `listings` (models and keys), `jobs`, `balances`.
//!
//! [`decode`] turns a log into a [`Decoded`] event; [`Working`] holds one batch's view of every
//! state table and applies events to it in order, synchronously, after the rows they touch have
//! been loaded in bulk.

use std::collections::HashSet;

use alloy::{
    primitives::{Address, B256, U256},
    sol_types::SolEventInterface,
};
use modelmart_bindings::ModelMarketEvents as Ev;
use modelmart_primitives::{JobId, ModelId};
use serde::Serialize;
use sqlx::AnyConnection;
use utoipa::ToSchema;

mod balances;
mod jobs;
mod listings;
mod operators;
pub(crate) use operators::stored_text;

use crate::{
    Result,
    db::{
        sql::Val,
        table::{Meta, Table},
    },
    state::{Balance, EvalKey, Job, Model, Operator},
};

/// A decoded marketplace event and where it happened.
#[derive(Clone, Debug)]
pub struct Decoded {
    /// Block, transaction and log position.
    pub meta: Meta,
    /// The event.
    pub event: Ev,
    /// Its fields as JSON (for the raw `events` table).
    pub data: serde_json::Value,
}

/// A change the live stream announces after the batch that caused it is committed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Update {
    /// A job was requested or settled.
    Job {
        /// Job id.
        job_id: i64,
        /// Its model.
        model_id: i64,
        /// The buyer.
        buyer: String,
        /// The operator.
        operator: String,
        /// New status.
        status: String,
        /// Block of the change.
        block_number: i64,
    },
    /// A listing was created or changed.
    Model {
        /// Listing id.
        model_id: i64,
        /// New status.
        status: String,
        /// Block of the change.
        block_number: i64,
    },
    /// A reorg: everything above `block_number` was rolled back and will be re-indexed.
    Rollback {
        /// The common ancestor kept.
        block_number: i64,
    },
}

/// Lowercase `0x`-hex of an address.
pub fn addr(a: Address) -> String {
    format!("{a:#x}")
}

/// Lowercase `0x`-hex of a 32-byte hash.
pub fn hex32(h: B256) -> String {
    format!("{h:#x}")
}

/// A listing id from the chain as the database stores it (checked once, in the primitives).
fn model_id(v: U256) -> Result<i64> {
    Ok(ModelId::try_from(v)?.to_i64())
}

/// A job id from the chain as the database stores it.
fn job_id(v: U256) -> Result<i64> {
    Ok(JobId::try_from(v)?.to_i64())
}

fn time(v: U256) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn dec(v: impl Into<U256>) -> String {
    v.into().to_string()
}

/// Decode one contract log. Returns `None` for a log that is not a marketplace event.
pub fn decode(topics: &[B256], data: &[u8], meta: Meta) -> Option<Decoded> {
    let mut event = Ev::decode_raw_log(topics, data).ok()?;
    // the endpoint as stored text, from its raw bytes (the decoder's string is lossy)
    match &mut event {
        Ev::OperatorRegistered(e) => {
            use alloy::sol_types::{SolType, sol_data};
            type Params = (sol_data::Bytes, sol_data::FixedBytes<32>, sol_data::Uint<256>);
            let (raw, ..) = Params::abi_decode_params(data).ok()?;
            e.endpoint = operators::stored_bytes(&raw);
        }
        Ev::OperatorUpdated(e) => {
            use alloy::sol_types::{SolType, sol_data};
            type Params = (sol_data::Bytes, sol_data::FixedBytes<32>);
            let (raw, _) = Params::abi_decode_params(data).ok()?;
            e.endpoint = operators::stored_bytes(&raw);
        }
        _ => {}
    }
    let (kind, data) = match &event {
        Ev::OperatorRegistered(e) => ("OperatorRegistered", serde_json::to_value(e)),
        Ev::OperatorUpdated(e) => ("OperatorUpdated", serde_json::to_value(e)),
        Ev::StakeAdded(e) => ("StakeAdded", serde_json::to_value(e)),
        Ev::UnbondingStarted(e) => ("UnbondingStarted", serde_json::to_value(e)),
        Ev::UnbondingCancelled(e) => ("UnbondingCancelled", serde_json::to_value(e)),
        Ev::OperatorExited(e) => ("OperatorExited", serde_json::to_value(e)),
        Ev::OperatorSlashed(e) => ("OperatorSlashed", serde_json::to_value(e)),
        Ev::OperatorTermsSet(e) => ("OperatorTermsSet", serde_json::to_value(e)),
        Ev::ModelListed(e) => ("ModelListed", serde_json::to_value(e)),
        Ev::ModelAccepted(e) => ("ModelAccepted", serde_json::to_value(e)),
        Ev::ModelDeclined(e) => ("ModelDeclined", serde_json::to_value(e)),
        Ev::ModelRepriced(e) => ("ModelRepriced", serde_json::to_value(e)),
        Ev::ModelPaused(e) => ("ModelPaused", serde_json::to_value(e)),
        Ev::ModelDelisted(e) => ("ModelDelisted", serde_json::to_value(e)),
        Ev::ModelRetired(e) => ("ModelRetired", serde_json::to_value(e)),
        Ev::KeyRegistered(e) => ("KeyRegistered", serde_json::to_value(e)),
        Ev::KeyRevoked(e) => ("KeyRevoked", serde_json::to_value(e)),
        Ev::JobRequested(e) => ("JobRequested", serde_json::to_value(e)),
        Ev::JobCompleted(e) => ("JobCompleted", serde_json::to_value(e)),
        Ev::JobRejected(e) => ("JobRejected", serde_json::to_value(e)),
        Ev::JobExpired(e) => ("JobExpired", serde_json::to_value(e)),
        Ev::Credited(e) => ("Credited", serde_json::to_value(e)),
        Ev::Withdrawn(e) => ("Withdrawn", serde_json::to_value(e)),
        Ev::ProtocolFeeSet(e) => ("ProtocolFeeSet", serde_json::to_value(e)),
        Ev::StakeParamsSet(e) => ("StakeParamsSet", serde_json::to_value(e)),
        Ev::TokenAllowed(e) => ("TokenAllowed", serde_json::to_value(e)),
        // Events inherited from OpenZeppelin (ownership transfers) carry no marketplace state.
        // Named, not `_`: a new marketplace event must not be dropped silently.
        Ev::OwnershipTransferStarted(_) | Ev::OwnershipTransferred(_) => return None,
    };
    Some(Decoded { meta: Meta { event: kind, ..meta }, event, data: data.unwrap_or_default() })
}

/// The keys of the rows a batch of events touches, per table.
#[derive(Default)]
struct Touched {
    operators: HashSet<Vec<Val>>,
    models: HashSet<Vec<Val>>,
    keys: HashSet<Vec<Val>>,
    jobs: HashSet<Vec<Val>>,
    balances: HashSet<Vec<Val>>,
}

impl Touched {
    fn collect(events: &[Decoded]) -> Result<Self> {
        let mut t = Self::default();
        let one = |s: String| vec![Val::Text(s)];
        for d in events {
            match &d.event {
                Ev::OperatorRegistered(e) => t.operators.insert(one(addr(e.operator))),
                Ev::OperatorUpdated(e) => t.operators.insert(one(addr(e.operator))),
                Ev::StakeAdded(e) => t.operators.insert(one(addr(e.operator))),
                Ev::UnbondingStarted(e) => t.operators.insert(one(addr(e.operator))),
                Ev::UnbondingCancelled(e) => t.operators.insert(one(addr(e.operator))),
                Ev::OperatorExited(e) => t.operators.insert(one(addr(e.operator))),
                Ev::OperatorSlashed(e) => t.operators.insert(one(addr(e.operator))),
                Ev::OperatorTermsSet(e) => t.operators.insert(one(addr(e.operator))),
                Ev::ModelListed(e) => t.models.insert(vec![model_id(e.modelId)?.into()]),
                Ev::ModelAccepted(e) => t.models.insert(vec![model_id(e.modelId)?.into()]),
                Ev::ModelDeclined(e) => t.models.insert(vec![model_id(e.modelId)?.into()]),
                Ev::ModelRepriced(e) => t.models.insert(vec![model_id(e.modelId)?.into()]),
                Ev::ModelPaused(e) => t.models.insert(vec![model_id(e.modelId)?.into()]),
                Ev::ModelDelisted(e) => t.models.insert(vec![model_id(e.modelId)?.into()]),
                Ev::ModelRetired(e) => t.models.insert(vec![model_id(e.modelId)?.into()]),
                Ev::KeyRegistered(e) => {
                    t.keys.insert(vec![addr(e.owner).into(), hex32(e.keyHash).into()])
                }
                Ev::KeyRevoked(e) => {
                    t.keys.insert(vec![addr(e.owner).into(), hex32(e.keyHash).into()])
                }
                Ev::JobRequested(e) => {
                    t.models.insert(vec![model_id(e.modelId)?.into()]);
                    t.jobs.insert(vec![job_id(e.jobId)?.into()])
                }
                Ev::JobCompleted(e) => t.jobs.insert(vec![job_id(e.jobId)?.into()]),
                Ev::JobRejected(e) => t.jobs.insert(vec![job_id(e.jobId)?.into()]),
                Ev::JobExpired(e) => t.jobs.insert(vec![job_id(e.jobId)?.into()]),
                Ev::Credited(e) => {
                    t.balances.insert(vec![addr(e.account).into(), addr(e.token).into()])
                }
                Ev::Withdrawn(e) => {
                    t.balances.insert(vec![addr(e.account).into(), addr(e.token).into()])
                }
                _ => false,
            };
        }
        Ok(t)
    }
}

/// One batch's view of every state table.
pub struct Working {
    operators: Table<Operator>,
    models: Table<Model>,
    keys: Table<EvalKey>,
    jobs: Table<Job>,
    balances: Table<Balance>,
}

fn vec_of(set: HashSet<Vec<Val>>) -> Vec<Vec<Val>> {
    set.into_iter().collect()
}

impl Working {
    /// Load the current rows every event of the batch touches.
    pub async fn load(
        conn: &mut AnyConnection,
        events: &[Decoded],
        max_params: usize,
    ) -> Result<Self> {
        let t = Touched::collect(events)?;
        Ok(Self {
            operators: Table::load(conn, &vec_of(t.operators), max_params).await?,
            models: Table::load(conn, &vec_of(t.models), max_params).await?,
            keys: Table::load(conn, &vec_of(t.keys), max_params).await?,
            jobs: Table::load(conn, &vec_of(t.jobs), max_params).await?,
            balances: Table::load(conn, &vec_of(t.balances), max_params).await?,
        })
    }

    /// Write every new version. Returns the number of rows inserted.
    pub async fn write(self, conn: &mut AnyConnection, max_params: usize) -> Result<usize> {
        Ok(self.operators.write(conn, max_params).await?
            + self.models.write(conn, max_params).await?
            + self.keys.write(conn, max_params).await?
            + self.jobs.write(conn, max_params).await?
            + self.balances.write(conn, max_params).await?)
    }

    fn operator(&self, a: Address) -> Option<Operator> {
        self.operators.get(&[Val::Text(addr(a))]).cloned()
    }

    fn model(&self, id: i64) -> Option<Model> {
        self.models.get(&[Val::Int(id)]).cloned()
    }

    fn job(&self, id: i64) -> Option<Job> {
        self.jobs.get(&[Val::Int(id)]).cloned()
    }

    /// Apply one event. Returns what the live stream should announce, if anything.
    pub fn apply(&mut self, d: &Decoded) -> Result<Option<Update>> {
        let meta = d.meta.clone();
        match &d.event {
            Ev::OperatorRegistered(_)
            | Ev::OperatorUpdated(_)
            | Ev::StakeAdded(_)
            | Ev::UnbondingStarted(_)
            | Ev::UnbondingCancelled(_)
            | Ev::OperatorExited(_)
            | Ev::OperatorSlashed(_)
            | Ev::OperatorTermsSet(_) => self.apply_operator(&d.event, meta),
            Ev::ModelListed(_)
            | Ev::ModelAccepted(_)
            | Ev::ModelDeclined(_)
            | Ev::ModelRepriced(_)
            | Ev::ModelPaused(_)
            | Ev::ModelDelisted(_)
            | Ev::ModelRetired(_)
            | Ev::KeyRegistered(_)
            | Ev::KeyRevoked(_) => self.apply_listing(&d.event, meta),
            Ev::JobRequested(_) | Ev::JobCompleted(_) | Ev::JobRejected(_) | Ev::JobExpired(_) => {
                self.apply_job(&d.event, meta)
            }
            Ev::Credited(_) | Ev::Withdrawn(_) => self.apply_balance(&d.event, meta),
            // owner settings and ownership carry no state the index keeps
            _ => Ok(None),
        }
    }

    fn model_change(
        &mut self,
        id: U256,
        meta: Meta,
        f: impl FnOnce(&mut Model),
    ) -> Result<Option<Update>> {
        let Some(mut model) = self.model(model_id(id)?) else {
            tracing::warn!(target: "modelmart::indexer::apply", event = meta.event, model_id = %id, "model unknown to the index; event skipped");
            return Ok(None);
        };
        f(&mut model);
        let update = model_update(&model, meta.block_number);
        self.models.put(model, meta);
        Ok(Some(update))
    }

    fn put_job(&mut self, job: Job, meta: Meta) -> Update {
        let update = Update::Job {
            job_id: job.job_id,
            model_id: job.model_id,
            buyer: job.buyer.clone(),
            operator: job.operator.clone(),
            status: job.status.clone(),
            block_number: meta.block_number,
        };
        self.jobs.put(job, meta);
        update
    }

    fn balance(&self, account: Address, token: Address) -> Balance {
        let (account, token) = (addr(account), addr(token));
        self.balances
            .get(&[Val::Text(account.clone()), Val::Text(token.clone())])
            .cloned()
            .unwrap_or(Balance {
                account,
                token,
                balance: "0".into(),
                credited_total: "0".into(),
                withdrawn_total: "0".into(),
            })
    }
}

/// An event about a row the index does not hold (the index started after the row was made):
/// logged and skipped.
fn missing(what: &str, meta: &Meta) -> Result<Option<Update>> {
    tracing::warn!(target: "modelmart::indexer::apply", event = meta.event, block = meta.block_number,
        "{what} unknown to the index (was the indexer started after it was created?); event skipped");
    Ok(None)
}

fn model_update(m: &Model, block_number: i64) -> Update {
    Update::Model { model_id: m.model_id, status: m.status.clone(), block_number }
}

/// Parse a stored decimal amount (0 if the column was corrupted by hand).
pub fn parse_amount(s: &str) -> U256 {
    s.parse().unwrap_or_default()
}

fn add(a: &str, b: U256) -> String {
    parse_amount(a).saturating_add(b).to_string()
}

fn sub(a: &str, b: U256) -> String {
    parse_amount(a).saturating_sub(b).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An id past the database's 63 bits is refused in words, never wrapped or defaulted.
    #[test]
    fn chain_ids_narrow_through_the_primitives() {
        let big = U256::from(1u64) << 63;
        assert!(matches!(model_id(big), Err(crate::Error::Protocol(_))));
        assert!(matches!(job_id(U256::MAX), Err(crate::Error::Protocol(_))));
        assert_eq!(
            (model_id(big - U256::from(1)).ok(), job_id(U256::from(7)).ok()),
            (Some(i64::MAX), Some(7))
        );
    }
}
