//! Listings and evaluation keys: listed, accepted or declined, repriced, paused, delisted or
//! retired by the operator; keys registered and revoked (per owner and hash).

use alloy::primitives::U256;
use modelmart_bindings::ModelMarketEvents as Ev;
use modelmart_primitives::ModelStatus;

use super::{Update, Working, addr, dec, hex32, missing, model_id, model_update};
use crate::{
    Result,
    db::{sql::Val, table::Meta},
    state::{EvalKey, Model},
};

impl Working {
    /// Apply one listing event.
    pub(super) fn apply_listing(&mut self, ev: &Ev, meta: Meta) -> Result<Option<Update>> {
        match ev {
            Ev::ModelListed(e) => {
                let l = &e.listing;
                let model = Model {
                    model_id: model_id(e.modelId)?,
                    seller: addr(e.seller),
                    operator: addr(e.operator),
                    token: addr(l.token),
                    price_per_row: dec(U256::from(l.pricePerRow)),
                    operator_fee_per_row: dec(U256::from(l.operatorFeePerRow)),
                    card_hash: hex32(l.cardHash),
                    sealed_model_hash: hex32(l.sealedModelHash),
                    param_set: l.paramSet.into(),
                    max_rows: l.maxRows.into(),
                    job_deadline: l.jobDeadline.into(),
                    output_mode: l.outputMode.into(),
                    status: ModelStatus::Proposed.to_string(),
                    decline_reason: None,
                    listed_at: meta.block_time,
                };
                let update = model_update(&model, meta.block_number);
                self.models.put(model, meta);
                return Ok(Some(update));
            }
            Ev::ModelAccepted(e) => {
                return self
                    .model_change(e.modelId, meta, |m| m.status = ModelStatus::Active.to_string());
            }
            Ev::ModelDeclined(e) => {
                let reason = i64::from(e.reason);
                return self.model_change(e.modelId, meta, |m| {
                    m.status = ModelStatus::Declined.to_string();
                    m.decline_reason = Some(reason);
                });
            }
            Ev::ModelRepriced(e) => {
                let price = dec(e.pricePerRow);
                return self.model_change(e.modelId, meta, |m| m.price_per_row = price);
            }
            Ev::ModelPaused(e) => {
                let status = if e.paused { ModelStatus::Paused } else { ModelStatus::Active };
                return self.model_change(e.modelId, meta, |m| m.status = status.to_string());
            }
            Ev::ModelDelisted(e) => {
                return self.model_change(e.modelId, meta, |m| {
                    m.status = ModelStatus::Delisted.to_string()
                });
            }
            Ev::ModelRetired(e) => {
                let reason = i64::from(e.reason);
                return self.model_change(e.modelId, meta, |m| {
                    m.status = ModelStatus::Delisted.to_string();
                    m.decline_reason = Some(reason);
                });
            }
            Ev::KeyRegistered(e) => {
                let key = EvalKey {
                    key_hash: hex32(e.keyHash),
                    owner: addr(e.owner),
                    param_set: e.paramSet.into(),
                    status: "active".into(),
                    registered_at: meta.block_time,
                };
                self.keys.put(key, meta);
            }
            Ev::KeyRevoked(e) => {
                let id = [Val::Text(addr(e.owner)), Val::Text(hex32(e.keyHash))];
                let Some(mut key) = self.keys.get(&id).cloned() else {
                    return missing("key", &meta);
                };
                key.status = "revoked".into();
                self.keys.put(key, meta);
            }
            _ => {}
        }
        Ok(None)
    }
}
