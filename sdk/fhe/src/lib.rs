//! ModelMart's FHE inference engine (`modelmart-fhe`).
//!
//! Pure CPU: no async, no network, no chain. Used by buyers (keys, encryption, decryption),
//! sellers (import, quantization, compilation) and the coprocessor (encrypted evaluation).
//!
//! - [`onnx::import_onnx`] / [`model::ModelFile`]: float models from ONNX (scikit-learn, XGBoost,
//!   PyTorch exports) or the project's own JSON file.
//! - [`CompiledModel::compile`]: quantization from calibration data into an integer program with
//!   a public input schema; [`CompiledModel::eval_clear`] is the reference the encrypted
//!   evaluation reproduces exactly.
//! - [`OutputMode`]: what a compiled model's result holds — every score, scores rounded to 5 bits,
//!   or a classifier's label (a sign, or an argmax among up to 16 classes).
//! - [`fhe`]: the buyer's [`ClientKey`], its [`EvaluationKey`]s (bootstrap and washing keys for
//!   models that bootstrap, the sanitization public key for leveled ones), compact
//!   [`EncryptedInput`]s, the coprocessor's [`Evaluator`], [`EncryptedResult`]s: leveled scores
//!   flooded, labels and rounded scores washed bit by bit, so each reveals its decrypted output
//!   and nothing else about the model (a tree's or network's full scores are the one output that
//!   is not sanitized; the listing layer refuses to offer them).
//! - [`cost`]: bootstrap count and expected latency before running anything.
//!
//! This crate must not do I/O beyond reading files it is explicitly given, must not log secrets,
//! and must not panic on untrusted bytes: every deserializer enforces a size limit and checks
//! parameter conformance.
//!
//! ```
//! use modelmart_fhe::{ClientKey, CompileOptions, CompiledModel, Evaluator, ServerKey};
//! use modelmart_fhe::onnx::import_onnx;
//! # fn main() -> modelmart_fhe::Result<()> {
//! # let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures");
//! // seller: import and compile with calibration data
//! let onnx = std::fs::read(format!("{dir}/models/logreg_breast_cancer.onnx")).unwrap();
//! let train = modelmart_fhe::Dataset::load(format!("{dir}/data/breast_cancer_train.csv"))?;
//! let model = import_onnx(&onnx)?;
//! let compiled = CompiledModel::compile(&model, &train.x, CompileOptions::default())?;
//!
//! // buyer: keys and encryption; a linear model needs no bootstrap keys, only the 64 KB public
//! // key its results are sanitized with (so they reveal the scores and nothing of the weights)
//! let client = ClientKey::generate(compiled.param_set)?;
//! let public_key = client.public_key()?.to_bytes()?;
//! let input = client.encrypt_rows(&compiled.public(), &train.x[..2])?;
//! let bytes = input.to_bytes()?;
//!
//! // coprocessor: evaluate on ciphertexts
//! let key = ServerKey::expand(&modelmart_fhe::EvaluationKey::from_bytes(&public_key)?)?;
//! let input = modelmart_fhe::EncryptedInput::from_bytes(&bytes)?;
//! let (result, _stats) = Evaluator::new(&compiled, Some(&key))?.evaluate(&input, 64)?;
//!
//! // buyer: decrypt; equals the clear quantized model exactly
//! let scores = client.decrypt(&compiled.public(), &result)?;
//! assert_eq!(scores[0], compiled.predict_clear(&train.x[0])?);
//! # Ok(()) }
//! ```

pub mod compiled;
pub mod cost;
mod data;
mod error;
pub mod fhe;
pub mod model;
pub mod onnx;
pub mod params;
pub mod quant;

pub use compiled::{CompileOptions, CompiledModel, OutputMode, PublicModel};
pub use data::Dataset;
pub use error::{Error, Result};
pub use fhe::{ClientKey, EncryptedInput, EncryptedResult, EvaluationKey, Evaluator, ServerKey};
