//! The seller's path: publish a compiled model (card to the operator's endpoint, model sealed to
//! the operator and bound to the card, listing on chain), wait for the operator's acceptance,
//! reprice, pause, delist, see earnings and withdraw them.

use std::time::Duration;

use alloy::primitives::{Address, B256, U256, aliases::U96};
use modelmart_bindings::{IModelMarket, ModelMarket};
use modelmart_fhe::CompiledModel;
use modelmart_primitives::{BlobKind, ModelId, ModelStatus};

use crate::{Chain, Error, Result, blobs::BlobClient, card::ModelCard, chain::rpc, seal::seal};

/// Commercial terms of a listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Terms {
    /// The operator that will host the model (must be active).
    pub operator: Address,
    /// Payment token (`Address::ZERO` for the native coin; must be allowed by the market).
    pub token: Address,
    /// Seller's share per row.
    pub price_per_row: u128,
    /// Operator's fee per row.
    pub operator_fee_per_row: u128,
    /// Most rows per job.
    pub max_rows: u32,
    /// Seconds the operator has to answer a job.
    pub job_deadline: u32,
}

/// A listing made by [`Seller::publish`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Published {
    /// Listing id.
    pub model_id: ModelId,
    /// SHA-256 of the card blob.
    pub card_hash: B256,
    /// SHA-256 of the sealed model blob.
    pub sealed_hash: B256,
}

/// A seller.
#[derive(Clone, Debug)]
pub struct Seller {
    chain: Chain,
    blobs: BlobClient,
}

fn u96(v: u128, what: &str) -> Result<U96> {
    U96::try_from(v).map_err(|_| Error::Invalid(format!("{what} {v} does not fit 96 bits")))
}

impl Seller {
    /// A seller signing with `chain`'s account.
    pub fn new(chain: Chain) -> Result<Self> {
        Ok(Self { chain, blobs: BlobClient::new()? })
    }

    /// Upload the card (naming this listing: chain, market, this seller, the operator), seal the
    /// model to the operator (bound to the card's hash and the same listing), upload it, and
    /// list. The listing waits for the operator's acceptance ([`Seller::wait_accepted`]).
    pub async fn publish(
        &self,
        model: &CompiledModel,
        card: &ModelCard,
        terms: &Terms,
    ) -> Result<Published> {
        if card.model != model.public() {
            return Err(Error::Invalid("the card was made for another model".into()));
        }
        let op = self.chain.market().getOperator(terms.operator).call().await.map_err(rpc)?;
        if op.status != 1 {
            return Err(Error::Invalid(format!("operator {} is not active", terms.operator)));
        }
        let t =
            self.chain.market().getOperatorTerms(terms.operator).call().await.map_err(rpc)?.terms;
        let fee = u96(terms.operator_fee_per_row, "operator fee per row")?;
        if fee < t.minFeePerRow
            || terms.job_deadline < t.minJobDeadline
            || terms.max_rows > t.maxRowsPerJob
        {
            return Err(Error::Invalid(format!(
                "operator {} serves listings with a fee of at least {} per row, a job deadline \
                 of at least {} s and at most {} rows per job",
                terms.operator, t.minFeePerRow, t.minJobDeadline, t.maxRowsPerJob
            )));
        }
        // the card names the listing it is published for, the sealed model is bound to it
        let ctx = self.chain.seal_context(self.chain.account(), terms.operator).await?;
        let card = card.clone().for_listing(&ctx);
        let card_hash = self.blobs.put(&op.endpoint, BlobKind::Card, card.to_bytes()).await?;
        let sealed = seal(&model.to_json()?, &op.x25519Key.0, &card_hash.0, &ctx)?;
        let sealed_hash = self.blobs.put(&op.endpoint, BlobKind::SealedModel, sealed).await?;
        let listing = IModelMarket::Listing {
            operator: terms.operator,
            token: terms.token,
            pricePerRow: u96(terms.price_per_row, "price per row")?,
            operatorFeePerRow: fee,
            cardHash: card_hash,
            sealedModelHash: sealed_hash,
            paramSet: model.param_set.0,
            maxRows: terms.max_rows,
            jobDeadline: terms.job_deadline,
            outputMode: card.output_mode.code(),
        };
        let receipt = self.chain.send("listModel", self.chain.market().listModel(listing)).await?;
        let ev = receipt
            .decoded_log::<ModelMarket::ModelListed>()
            .ok_or_else(|| Error::Rpc("receipt without ModelListed".into()))?;
        Ok(Published { model_id: ModelId::try_from(ev.modelId)?, card_hash, sealed_hash })
    }

    /// Wait until the operator accepts (`Ok`) or declines (an error with its reason).
    pub async fn wait_accepted(&self, model_id: ModelId, timeout: Duration) -> Result<()> {
        let until = tokio::time::Instant::now() + timeout;
        loop {
            let status = self.status(model_id).await?;
            match status {
                ModelStatus::Active | ModelStatus::Paused => return Ok(()),
                ModelStatus::Declined => {
                    let reason = self.decline_reason(model_id).await?;
                    return Err(Error::ModelUnavailable {
                        model_id,
                        status: format!(
                            "declined (reason {reason}: {})",
                            crate::reasons::describe(reason)
                        ),
                    });
                }
                ModelStatus::Proposed if tokio::time::Instant::now() < until => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                other => {
                    return Err(Error::ModelUnavailable { model_id, status: other.to_string() });
                }
            }
        }
    }

    async fn decline_reason(&self, model_id: ModelId) -> Result<u16> {
        let filter = alloy::rpc::types::Filter::new()
            .address(*self.chain.market().address())
            .event_signature(
                <ModelMarket::ModelDeclined as alloy::sol_types::SolEvent>::SIGNATURE_HASH,
            )
            .topic1(B256::from(model_id.to_u256()))
            .from_block(0);
        let logs = alloy::providers::Provider::get_logs(self.chain.provider(), &filter)
            .await
            .map_err(rpc)?;
        let log =
            logs.first().ok_or_else(|| Error::NotFound(format!("decline of model {model_id}")))?;
        let ev =
            <ModelMarket::ModelDeclined as alloy::sol_types::SolEvent>::decode_log_data(log.data())
                .map_err(rpc)?;
        Ok(ev.reason)
    }

    /// The listing's status on chain.
    pub async fn status(&self, model_id: ModelId) -> Result<ModelStatus> {
        self.chain.model_status(model_id).await
    }

    /// Change the seller's price per row (pending jobs keep theirs).
    pub async fn reprice(&self, model_id: ModelId, price_per_row: u128) -> Result<()> {
        let call =
            self.chain.market().repriceModel(model_id.to_u256(), u96(price_per_row, "price")?);
        self.chain.send("repriceModel", call).await.map(drop)
    }

    /// Pause or resume new jobs.
    pub async fn set_paused(&self, model_id: ModelId, paused: bool) -> Result<()> {
        let call = self.chain.market().setModelPaused(model_id.to_u256(), paused);
        self.chain.send("setModelPaused", call).await.map(drop)
    }

    /// Delist for good (pending jobs still settle).
    pub async fn delist(&self, model_id: ModelId) -> Result<()> {
        let call = self.chain.market().delistModel(model_id.to_u256());
        self.chain.send("delistModel", call).await.map(drop)
    }

    /// Earnings withdrawable in `token`.
    pub async fn earnings(&self, token: Address) -> Result<U256> {
        self.chain.balance(self.chain.account(), token).await
    }

    /// Withdraw all earnings in `token`; returns the amount.
    pub async fn withdraw(&self, token: Address) -> Result<U256> {
        self.chain.withdraw(token).await
    }
}
