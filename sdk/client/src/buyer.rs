//! The buyer's path: look up a listing and its card, make sure the evaluation key is registered
//! (and uploaded when the model bootstraps), encrypt and upload rows, pay and request, wait for
//! the job, download and verify the result, decrypt and decode. [`Buyer::infer`] does it all;
//! each step is public too.

use std::time::Duration;

use alloy::primitives::{B256, U256};
use modelmart_bindings::IModelMarket;
use modelmart_fhe::{EncryptedResult, compiled::Decoded};

use modelmart_primitives::{BlobKind, JobId, JobStatus, ModelId, ModelStatus};

use crate::{
    BuyerKeys, Chain, Error, Result,
    blobs::BlobClient,
    card::ModelCard,
    chain::{JobEnd, rpc},
    payment::Payment,
};

const TARGET: &str = "modelmart::sdk::buyer";

/// A listing as a buyer sees it: the on-chain listing, its verified card and where to send blobs.
#[derive(Clone, Debug)]
pub struct ModelInfo {
    /// Listing id.
    pub model_id: ModelId,
    /// The listing as submitted by the seller.
    pub listing: IModelMarket::Listing,
    /// Its status on chain.
    pub status: ModelStatus,
    /// The public card (hash-checked against the listing).
    pub card: ModelCard,
    /// The operator's blob endpoint.
    pub endpoint: String,
}

impl ModelInfo {
    /// Model `model_id`'s listing, status, operator endpoint and card (fetched from the operator
    /// and checked against the listing's card hash and parameter set). Needs no buyer keys: this
    /// is what browsing a model reads.
    pub async fn fetch(chain: &Chain, blobs: &BlobClient, model_id: ModelId) -> Result<Self> {
        let listing = chain.listing(model_id).await?;
        let m = chain.market().getModel(model_id.to_u256()).call().await.map_err(rpc)?;
        let op = chain.market().getOperator(listing.operator).call().await.map_err(rpc)?;
        let endpoint = op.endpoint;
        let bytes = blobs.get(&endpoint, listing.cardHash, BlobKind::Card).await?;
        let card = ModelCard::from_bytes(&bytes)?;
        if card.model.param_set.0 != listing.paramSet {
            return Err(Error::Invalid(format!(
                "card of model {model_id} is for parameter set {}, listing says {}",
                card.model.param_set.0, listing.paramSet
            )));
        }
        Ok(Self { model_id, listing, status: ModelStatus::from_code(m.status)?, card, endpoint })
    }
}

/// A requested job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestedJob {
    /// Job id.
    pub job_id: JobId,
    /// Block of the request (where to start looking for its end).
    pub block: u64,
    /// Total price escrowed.
    pub price: U256,
    /// Unix time after which the job can be refunded.
    pub deadline: u64,
}

/// A decrypted, decoded prediction.
#[derive(Clone, Debug, PartialEq)]
pub struct Prediction {
    /// The job that computed it.
    pub job_id: JobId,
    /// SHA-256 of the encrypted result blob (as committed on chain).
    pub result_hash: B256,
    /// Integer scores per row, exactly what the quantized model computes.
    pub raw: Vec<Vec<i64>>,
    /// Dequantized scores per row.
    pub scores: Vec<Vec<f64>>,
    /// Class label per row (classification models).
    pub labels: Option<Vec<String>>,
    /// Unit of the predicted value (regression models whose card names one).
    pub unit: Option<String>,
}

/// A buyer: a signing chain connection, FHE keys and a blob client.
#[derive(Debug)]
pub struct Buyer {
    chain: Chain,
    keys: BuyerKeys,
    blobs: BlobClient,
    /// Longest wait for a job to end.
    pub job_timeout: Duration,
}

impl Buyer {
    /// A buyer signing with `chain`'s account and holding `keys`.
    pub fn new(chain: Chain, keys: BuyerKeys) -> Result<Self> {
        Ok(Self { chain, keys, blobs: BlobClient::new()?, job_timeout: Duration::from_secs(600) })
    }

    /// The chain connection.
    pub fn chain(&self) -> &Chain {
        &self.chain
    }

    /// The buyer's keys.
    pub fn keys(&self) -> &BuyerKeys {
        &self.keys
    }

    /// The buyer's keys, mutably (the evaluation key is made on first use).
    pub fn keys_mut(&mut self) -> &mut BuyerKeys {
        &mut self.keys
    }

    /// Listing `model_id` with its verified card and operator endpoint.
    pub async fn model(&self, model_id: ModelId) -> Result<ModelInfo> {
        ModelInfo::fetch(&self.chain, &self.blobs, model_id).await
    }

    /// Make sure a key of this buyer is registered on chain for `model` and uploaded to its
    /// operator, and return its hash: for a bootstrapped model the evaluation key, for a leveled
    /// one the public key its results are sanitized with ([`BuyerKeys::key_for`]).
    pub async fn ensure_key(&mut self, model: &ModelInfo) -> Result<B256> {
        if self.keys.client().param_set() != model.card.model.param_set {
            return Err(Error::Invalid(format!(
                "buyer keys are for parameter set {}, model {} needs {}",
                self.keys.client().param_set().0,
                model.model_id,
                model.card.model.param_set.0
            )));
        }
        let (bytes, hash) = self.keys.key_for(&model.card.model)?;
        self.blobs.put(&model.endpoint, BlobKind::EvalKey, bytes.to_vec()).await?;
        let key =
            self.chain.market().getKey(self.chain.account(), hash).call().await.map_err(rpc)?;
        if key.revoked {
            return Err(Error::Invalid(format!(
                "key {hash} was revoked by this account; make a new key to buy again"
            )));
        }
        if !key.registered {
            let call = self.chain.market().registerKey(hash, model.listing.paramSet);
            self.chain.send("registerKey", call).await?;
            tracing::info!(target: TARGET, key = %hash, "evaluation key registered");
        }
        Ok(hash)
    }

    /// Encrypt `rows` (raw feature values, in the card's schema order) and upload them to the
    /// model's operator; returns the input hash.
    pub async fn upload_rows(&self, model: &ModelInfo, rows: &[Vec<f64>]) -> Result<B256> {
        if rows.is_empty() || rows.len() > model.listing.maxRows as usize {
            return Err(Error::Invalid(format!(
                "{} rows; model {} takes 1..={}",
                rows.len(),
                model.model_id,
                model.listing.maxRows
            )));
        }
        let (client, public, rows) =
            (self.keys.client().clone(), model.card.model.clone(), rows.to_vec());
        let input = blocking(move || Ok(client.encrypt_rows(&public, &rows)?.to_bytes()?)).await?;
        self.blobs.put(&model.endpoint, BlobKind::Input, input).await
    }

    /// Pay for and request a job. `max_total` defaults to the current quote (so a price raised
    /// in between is refused by the contract instead of charged).
    pub async fn request(
        &self,
        model: &ModelInfo,
        input_hash: B256,
        key_hash: B256,
        rows: u32,
        max_total: Option<U256>,
        payment: Payment,
    ) -> Result<RequestedJob> {
        if model.status != ModelStatus::Active {
            return Err(Error::ModelUnavailable {
                model_id: model.model_id,
                status: model.status.to_string(),
            });
        }
        let market = self.chain.market();
        let price = market.quote(model.model_id.to_u256(), rows).call().await.map_err(rpc)?;
        let max = max_total.unwrap_or(price);
        if price > max {
            return Err(Error::PriceAboveMax { price, max });
        }
        let request = IModelMarket::JobRequest {
            modelId: model.model_id.get(),
            inputHash: input_hash,
            keyHash: key_hash,
            rows,
            maxTotalPrice: max,
        };
        let receipt = crate::payment::pay_and_request(
            &self.chain,
            model.listing.token,
            request,
            price,
            payment,
        )
        .await?;
        let ev = receipt
            .decoded_log::<modelmart_bindings::ModelMarket::JobRequested>()
            .ok_or_else(|| Error::Rpc("receipt without JobRequested".into()))?;
        let job = RequestedJob {
            job_id: JobId::try_from(ev.jobId)?,
            block: receipt.block_number.unwrap_or_default(),
            price,
            deadline: u64::try_from(ev.deadline)
                .map_err(|_| Error::Rpc(format!("job deadline {} out of range", ev.deadline)))?,
        };
        tracing::info!(target: TARGET, job_id = %job.job_id, %price, "job requested");
        Ok(job)
    }

    /// Wait for `job` to end; on success download, verify, decrypt and decode its result.
    pub async fn result(&self, model: &ModelInfo, job: &RequestedJob) -> Result<Prediction> {
        let end = self.chain.wait_job(job.job_id, job.block, self.job_timeout).await?;
        let result_hash = match end {
            JobEnd::Completed { result_hash } => result_hash,
            JobEnd::Rejected { reason } => {
                return Err(Error::JobFailed {
                    job_id: job.job_id,
                    status: JobStatus::Rejected,
                    reason: Some(reason),
                });
            }
            JobEnd::Expired => {
                return Err(Error::JobFailed {
                    job_id: job.job_id,
                    status: JobStatus::Expired,
                    reason: None,
                });
            }
        };
        let bytes = self.blobs.get(&model.endpoint, result_hash, BlobKind::Result).await?;
        let (client, public) = (self.keys.client().clone(), model.card.model.clone());
        let raw = blocking(move || {
            let result = EncryptedResult::from_bytes(&bytes)?;
            Ok(client.decrypt(&public, &result)?)
        })
        .await?;
        Ok(decode(&model.card, job.job_id, result_hash, raw))
    }

    /// The whole path: key, encryption, upload, payment, job, result, decryption.
    pub async fn infer(
        &mut self,
        model_id: ModelId,
        rows: &[Vec<f64>],
        payment: Payment,
    ) -> Result<Prediction> {
        let model = self.model(model_id).await?;
        let key = self.ensure_key(&model).await?;
        let input = self.upload_rows(&model, rows).await?;
        let job = self.request(&model, input, key, rows.len() as u32, None, payment).await?;
        self.result(&model, &job).await
    }
}

/// Dequantize scores and name classes with the card's labels.
pub fn decode(
    card: &ModelCard,
    job_id: JobId,
    result_hash: B256,
    raw: Vec<Vec<i64>>,
) -> Prediction {
    let Decoded { raw, scores, labels } = card.model.decode(raw);
    Prediction { job_id, result_hash, raw, scores, labels, unit: card.unit.clone() }
}

/// Run CPU-heavy `f` (encryption, decryption: up to seconds) on a blocking thread, so the
/// caller's async runtime keeps serving its other tasks meanwhile.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| Error::Task(e.to_string()))?
}
