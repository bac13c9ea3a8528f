//! Jobs: requested (escrowed), completed, rejected, expired.

use modelmart_bindings::ModelMarketEvents as Ev;
use modelmart_primitives::JobStatus;

use super::{Update, Working, addr, dec, hex32, job_id, missing, model_id, time};
use crate::{Result, db::table::Meta, state::Job};

impl Working {
    /// Apply one job event.
    pub(super) fn apply_job(&mut self, ev: &Ev, meta: Meta) -> Result<Option<Update>> {
        match ev {
            Ev::JobRequested(e) => {
                let model_id = model_id(e.modelId)?;
                let Some(model) = self.model(model_id) else { return missing("model", &meta) };
                let job = Job {
                    job_id: job_id(e.jobId)?,
                    model_id,
                    buyer: addr(e.buyer),
                    seller: model.seller,
                    operator: addr(e.operator),
                    token: addr(e.token),
                    input_hash: hex32(e.inputHash),
                    key_hash: hex32(e.keyHash),
                    rows: e.rows.into(),
                    seller_amount: dec(e.sellerAmount),
                    operator_amount: dec(e.operatorAmount),
                    deadline: time(e.deadline),
                    status: JobStatus::Requested.to_string(),
                    result_hash: None,
                    reason: None,
                    seller_paid: None,
                    operator_paid: None,
                    protocol_fee: None,
                    refund: None,
                    slashed: None,
                    requested_at: meta.block_time,
                    settled_at: None,
                };
                return Ok(Some(self.put_job(job, meta)));
            }
            Ev::JobCompleted(e) => {
                let Some(mut job) = self.job(job_id(e.jobId)?) else {
                    return missing("job", &meta);
                };
                job.status = JobStatus::Completed.to_string();
                job.result_hash = Some(hex32(e.resultHash));
                job.seller_paid = Some(dec(e.sellerAmount));
                job.operator_paid = Some(dec(e.operatorAmount));
                job.protocol_fee = Some(dec(e.protocolFee));
                job.settled_at = Some(meta.block_time);
                return Ok(Some(self.put_job(job, meta)));
            }
            Ev::JobRejected(e) => {
                let Some(mut job) = self.job(job_id(e.jobId)?) else {
                    return missing("job", &meta);
                };
                job.status = JobStatus::Rejected.to_string();
                job.reason = Some(e.reason.into());
                job.refund = Some(dec(e.refund));
                job.settled_at = Some(meta.block_time);
                return Ok(Some(self.put_job(job, meta)));
            }
            Ev::JobExpired(e) => {
                let Some(mut job) = self.job(job_id(e.jobId)?) else {
                    return missing("job", &meta);
                };
                job.status = JobStatus::Expired.to_string();
                job.refund = Some(dec(e.refund));
                job.slashed = Some(dec(e.slashed));
                job.settled_at = Some(meta.block_time);
                return Ok(Some(self.put_job(job, meta)));
            }
            _ => {}
        }
        Ok(None)
    }
}
