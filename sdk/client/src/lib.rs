//! `modelmart-sdk`: the Rust SDK for ModelMart's buyers, sellers and operators.
//!
//! - [`Chain`]: a signing connection to the ModelMarket contract; refusals come back as
//!   [`Error::Reverted`] with the contract's reason in words (price changed, model delisted,
//!   deadline passed, insufficient allowance, ...).
//! - [`Buyer`]: from a feature vector to a decrypted prediction ([`Buyer::infer`]), or step by
//!   step: [`Buyer::model`], [`Buyer::ensure_key`], [`Buyer::upload_rows`], [`Buyer::request`],
//!   [`Buyer::result`]. Keys live encrypted on disk ([`BuyerKeys`]).
//! - [`Seller`]: publish a compiled model ([`card`] + [`seal`] + listing), reprice, pause, delist,
//!   withdraw. [`Operator`]: register, stake, unbond, accept/decline, post results, withdraw.
//! - [`blobs`]: the operators' content-addressed blob endpoints (every download hash-checked).
//!
//! The buyer path:
//!
//! ```no_run
//! use modelmart_sdk::{Buyer, BuyerKeys, Chain, Payment};
//!
//! # async fn run() -> modelmart_sdk::Result<()> {
//! let signer = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d".parse()
//!     .map_err(|e| modelmart_sdk::Error::Invalid(format!("{e}")))?;
//! let market = "0x5FbDB2315678afecb367f032d93F642f64180aa3".parse()
//!     .map_err(|e| modelmart_sdk::Error::Invalid(format!("{e}")))?;
//! let chain = Chain::connect("http://127.0.0.1:8545", signer, market).await?;
//! let keys = BuyerKeys::load_or_create(
//!     std::path::Path::new("buyer.key"), "passphrase", modelmart_fhe::params::ParamSetId(1))?;
//! let mut buyer = Buyer::new(chain, keys)?;
//! let row = vec![0.0_f64; 30]; // one feature row in the card's schema order
//! let prediction = buyer.infer(modelmart_sdk::ModelId::new(1)?, &[row], Payment::Auto).await?;
//! println!("{:?} {:?}", prediction.labels, prediction.scores);
//! # Ok(()) }
//! ```
//!
//! The seller path:
//!
//! ```no_run
//! use modelmart_fhe::{Dataset, onnx::import_onnx};
//! use modelmart_sdk::{Chain, Seller, Terms, card::{ListingSpec, OutputMode, prepare_listing}};
//!
//! # async fn run(chain: Chain, onnx: &[u8], train: &Dataset, test: &Dataset) -> modelmart_sdk::Result<()> {
//! // quantization calibrated on `train`; accuracy (float, quantized, FHE on 20 rows) on `test`;
//! // the result reveals only the class, decided under FHE
//! let spec = ListingSpec {
//!     output_mode: OutputMode::LabelOnly,
//!     fhe_rows: 20,
//!     ..ListingSpec::new("Tumour classifier", "Logistic regression, 30 features")
//! };
//! let (compiled, card) = prepare_listing(import_onnx(onnx)?, train, test, &spec)?;
//! let terms = Terms {
//!     operator: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8".parse()
//!         .map_err(|e| modelmart_sdk::Error::Invalid(format!("{e}")))?,
//!     token: alloy::primitives::Address::ZERO,
//!     price_per_row: 1_000_000_000_000,
//!     operator_fee_per_row: 200_000_000_000,
//!     max_rows: 64,
//!     job_deadline: 600,
//! };
//! let seller = Seller::new(chain)?;
//! let listed = seller.publish(&compiled, &card, &terms).await?;
//! seller.wait_accepted(listed.model_id, std::time::Duration::from_secs(120)).await?;
//! # Ok(()) }
//! ```
//!
//! This crate must not log or persist secrets in the clear (client keys, operator private keys,
//! opened models), and must not trust a blob it did not hash.

pub mod blobs;
pub mod buyer;
pub mod chain;
pub mod dev;
mod error;
pub mod indexer;
mod keys;
pub mod operator;
mod payment;
pub mod seller;

/// The public model card (re-exported from `modelmart-listing`).
pub use modelmart_listing::card;
/// Models sealed to an operator (re-exported from `modelmart-listing`).
pub use modelmart_listing::seal;

/// The protocol's terms (re-exported from `modelmart-primitives`): ids, hashes, statuses,
/// output modes, blob kinds and their limits.
pub use modelmart_primitives as primitives;
/// Reason codes of rejected jobs and declined listings (from `modelmart-primitives`).
pub use modelmart_primitives::reasons;
pub use modelmart_primitives::{
    BlobHash, BlobKind, JobId, JobStatus, ModelId, ModelStatus, OperatorStatus, OutputMode,
};

pub use buyer::{Buyer, ModelInfo, Prediction, RequestedJob};
pub use chain::{Chain, JobEnd};
pub use error::{Error, Result};
pub use indexer::Indexer;
pub use keys::BuyerKeys;
pub use operator::{Operator, OperatorInfo, OperatorTerms};
pub use payment::Payment;
pub use seller::{Published, Seller, Terms};
