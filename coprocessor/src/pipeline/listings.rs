//! Listings sealed to this operator: open, check, accept or decline, on a task of their own
//! ([`ListingIntake`], a few at a time) that job intake never waits for. Opened models are
//! cached; after a restart a job's model is opened again from its sealed blob.

use std::sync::Arc;

use alloy::primitives::Address;
use futures_util::StreamExt;
use modelmart_fhe::CompiledModel;
use modelmart_index::Update;
use modelmart_primitives::{ModelId, ModelStatus};
use modelmart_sdk::{
    card::{CardError, ModelCard},
    reasons,
};
use sha2::{Digest, Sha256};
use tokio::sync::{broadcast, watch};

use super::{Pipeline, feed::next_pass};
use crate::{Result, blobs::BlobError};

const TARGET: &str = "modelmart::coprocessor::listings";

/// Why a listing cannot be served: a reason code for the chain and words for the log.
#[derive(Debug)]
pub(crate) struct Refusal {
    pub(crate) reason: u16,
    pub(crate) detail: String,
}

fn refuse(reason: u16, detail: impl Into<String>) -> Refusal {
    Refusal { reason, detail: detail.into() }
}

impl Pipeline {
    /// Read a blob by hash and check that its bytes hash to it (storage is not trusted).
    pub(crate) async fn verified_blob(
        &self,
        hash: &str,
    ) -> Result<Option<bytes::Bytes>, BlobError> {
        let Some(bytes) = self.blobs.read(hash).await? else {
            return Ok(None);
        };
        let actual = alloy::hex::encode(Sha256::digest(&bytes));
        if !hash.trim_start_matches("0x").eq_ignore_ascii_case(&actual) {
            return Err(BlobError::HashMismatch { expected: hash.to_owned(), actual });
        }
        Ok(Some(bytes))
    }

    /// Open and check listing `model`: card, sealed model, their agreement and the listing's
    /// fields. Storage failures are `Err` (retry later); bad listings are `Ok(Err(refusal))`.
    pub(crate) async fn open_model(
        &self,
        model: &modelmart_index::Model,
    ) -> Result<std::result::Result<Arc<CompiledModel>, Refusal>> {
        let id = ModelId::try_from(model.model_id)?;
        if let Some(m) = self.models.get(&id) {
            return Ok(Ok(m));
        }
        let blob = |r: Result<Option<bytes::Bytes>, BlobError>, missing: u16, what: &str| match r {
            Ok(Some(b)) => Ok(Ok(b)),
            Ok(None) => Ok(Err(refuse(missing, format!("{what} not uploaded")))),
            Err(e @ BlobError::HashMismatch { .. }) => {
                Ok(Err(refuse(reasons::HASH_MISMATCH, format!("{what}: {e}"))))
            }
            Err(e) => Err(crate::Error::Blob(e)),
        };
        let card = match blob(
            self.verified_blob(&model.card_hash).await,
            reasons::CARD_INVALID,
            "card",
        )? {
            Ok(b) => b,
            Err(r) => return Ok(Err(r)),
        };
        let card = match ModelCard::from_bytes(&card) {
            Ok(c) => c,
            // a mode the engine cannot compute, or results it could not sanitize
            Err(e @ (CardError::Unsupported { .. } | CardError::Unsanitized)) => {
                return Ok(Err(refuse(reasons::UNSUPPORTED, e.to_string())));
            }
            Err(e) => return Ok(Err(refuse(reasons::CARD_INVALID, e.to_string()))),
        };
        let sealed = match blob(
            self.verified_blob(&model.sealed_model_hash).await,
            reasons::SEALED_MISSING,
            "sealed model",
        )? {
            Ok(b) => b,
            Err(r) => return Ok(Err(r)),
        };
        let mut card_hash = [0u8; 32];
        if alloy::hex::decode_to_slice(model.card_hash.trim_start_matches("0x"), &mut card_hash)
            .is_err()
        {
            return Ok(Err(refuse(reasons::CARD_INVALID, "card hash is not 32 bytes")));
        }
        let (Ok(seller), Ok(operator)) =
            (model.seller.parse::<Address>(), model.operator.parse::<Address>())
        else {
            return Ok(Err(refuse(reasons::CARD_INVALID, "listing addresses are not addresses")));
        };
        let ctx = self.operator.chain().seal_context(seller, operator).await?;
        // a card is served only under the listing it names: a copier's re-listing is declined
        // in words before the sealed model is even tried
        if !card.names_listing(&ctx) {
            let named = card.listing.as_ref().map_or_else(
                || "no listing".to_owned(),
                |l| {
                    format!(
                        "seller {} with operator {} on chain {}",
                        l.seller, l.operator, l.chain_id
                    )
                },
            );
            return Ok(Err(refuse(
                reasons::CARD_ELSEWHERE,
                format!("the card names {named}, not this listing by {}", model.seller),
            )));
        }
        let plain = match self.key.open(&sealed, &card_hash, &ctx) {
            Ok(p) => p,
            Err(e) => return Ok(Err(refuse(reasons::CANNOT_OPEN, e.to_string()))),
        };
        let compiled = match CompiledModel::from_json(&plain) {
            Ok(c) => c,
            Err(e) => return Ok(Err(refuse(reasons::UNSUPPORTED, e.to_string()))),
        };
        if compiled.public() != card.model {
            return Ok(Err(refuse(reasons::MODEL_MISMATCH, "sealed model differs from the card")));
        }
        // every result that leaves this process is sanitized (the card said so; so must the
        // program it seals)
        if !compiled.public().sanitized() {
            return Ok(Err(refuse(reasons::UNSUPPORTED, CardError::Unsanitized.to_string())));
        }
        if i64::from(compiled.param_set.0) != model.param_set
            || i64::from(card.output_mode.code()) != model.output_mode
        {
            return Ok(Err(refuse(
                reasons::LISTING_MISMATCH,
                format!(
                    "listing: params {} mode {}; model: params {} mode {}",
                    model.param_set,
                    model.output_mode,
                    compiled.param_set.0,
                    card.output_mode.code()
                ),
            )));
        }
        let compiled = Arc::new(compiled);
        self.models.insert(id, compiled.clone());
        Ok(Ok(compiled))
    }

    /// Whether this operator can serve `model` as listed: within its current terms (they may
    /// have tightened since the listing was made) and able to finish a job of the listing's
    /// maximum rows before its deadline.
    async fn serviceable(
        &self,
        model: &modelmart_index::Model,
        compiled: &CompiledModel,
    ) -> Result<std::result::Result<(), Refusal>> {
        let (terms, _) = self.operator.terms(self.operator_address()).await?;
        let fee = model.operator_fee_per_row.parse::<u128>().unwrap_or(0);
        if fee < terms.min_fee_per_row
            || model.job_deadline < i64::from(terms.min_job_deadline)
            || model.max_rows > i64::from(terms.max_rows_per_job)
        {
            return Ok(Err(refuse(
                reasons::OUTSIDE_TERMS,
                format!(
                    "fee {fee}, deadline {} s, {} rows; terms: fee >= {}, deadline >= {} s, rows <= {}",
                    model.job_deadline,
                    model.max_rows,
                    terms.min_fee_per_row,
                    terms.min_job_deadline,
                    terms.max_rows_per_job
                ),
            )));
        }
        let rows = usize::try_from(model.max_rows).unwrap_or(usize::MAX);
        let full =
            self.admission.expected_seconds(self.cost.estimate(compiled, rows).expected_seconds);
        if full.ceil() as i64 + self.post_margin_s() > model.job_deadline {
            return Ok(Err(refuse(
                reasons::TOO_SLOW,
                format!(
                    "{rows} rows need ~{full:.0} s plus a {} s margin; the deadline is {} s",
                    self.post_margin_s(),
                    model.job_deadline
                ),
            )));
        }
        Ok(Ok(()))
    }

    /// Accept or decline a proposed listing (after checking on chain that it still is proposed).
    pub(crate) async fn handle_listing(&self, model: &modelmart_index::Model) -> Result<()> {
        let id = ModelId::try_from(model.model_id)?;
        if self.operator.chain().model_status(id).await? != ModelStatus::Proposed {
            return Ok(());
        }
        let opened = match self.open_model(model).await? {
            Ok(m) => self.serviceable(model, &m).await?,
            Err(r) => Err(r),
        };
        match opened {
            Ok(()) => {
                self.operator.accept(id).await?;
                self.record(|h| h.accepted += 1);
                metrics::counter!("modelmart_coprocessor_listings_total", "outcome" => "accepted")
                    .increment(1);
                tracing::info!(target: TARGET, model_id = %id, "listing accepted");
            }
            Err(r) => {
                self.operator.decline(id, r.reason).await?;
                self.record(|h| h.declined += 1);
                metrics::counter!("modelmart_coprocessor_listings_total", "outcome" => "declined")
                    .increment(1);
                tracing::warn!(target: TARGET, model_id = %id, reason = r.reason, detail = %r.detail, "listing declined");
            }
        }
        Ok(())
    }
}

/// Listings handled at once (each waits for its accept or decline receipt).
const CONCURRENT_LISTINGS: usize = 8;
/// Proposed listings read per pass.
const LISTINGS_PER_PASS: i64 = 64;

/// The task that answers listings addressed to this operator, apart from job intake.
#[derive(Debug)]
pub struct ListingIntake {
    p: Arc<Pipeline>,
    updates: broadcast::Receiver<Update>,
}

impl ListingIntake {
    /// A listing task reading index `updates`.
    pub fn new(p: Arc<Pipeline>, updates: broadcast::Receiver<Update>) -> Self {
        Self { p, updates }
    }

    /// Handle proposed listings until `stop` turns true.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        loop {
            if let Err(e) = self.pass().await {
                tracing::warn!(target: TARGET, error = %e, "listing pass failed; retrying");
            }
            if !next_pass(self.p.cfg.scan_interval, &mut self.updates, &mut stop).await {
                break;
            }
        }
    }

    /// Answer the proposed listings the index holds, a few at a time.
    pub async fn pass(&self) -> Result<()> {
        let p = &self.p;
        let op = p.operator_address();
        let proposed = p.index.models_for_operator(op, "proposed", None, LISTINGS_PER_PASS).await?;
        futures_util::stream::iter(proposed)
            .for_each_concurrent(CONCURRENT_LISTINGS, |m| async move {
                if let Err(e) = p.handle_listing(&m).await {
                    tracing::warn!(target: TARGET, model_id = m.model_id, error = %e, "listing not handled yet");
                }
            })
            .await;
        Ok(())
    }
}
