//! `modelmart-fhe` and `modelmart-listing`, compiled to WebAssembly for the web dApp (`web/`).
//!
//! The browser, the CLI and the coprocessor share one encoding and one tfhe version: this crate
//! only wraps, for JavaScript, [`modelmart_fhe::ClientKey`] (generate, serialize, make the key a
//! model needs, encrypt rows, decrypt and decode results) and the seller's listing steps
//! ([`seller`]: compile a model file for its card, seal it to an operator). [`Buyer`] and
//! [`seller::prepare`] are the plain-Rust API (tested natively); [`BuyerKey`] and the free
//! functions are its `wasm-bindgen` face.
//!
//! It must not do I/O, keep anything outside the key object, or return a secret except through
//! [`BuyerKey::to_bytes`] (which the page stores encrypted). Untrusted bytes (stored keys, cards,
//! results) go through the engine's size-limited, conformance-checked readers.

pub use modelmart_fhe::compiled::Decoded;
use modelmart_fhe::{ClientKey, EncryptedResult, PublicModel, params::ParamSetId};
use wasm_bindgen::prelude::*;

pub mod seller;

/// What can go wrong; shown to the user as the error's message.
pub type Error = modelmart_fhe::Error;
/// This crate's result.
pub type Result<T> = std::result::Result<T, Error>;

/// The model part of a card (`card.model`), parsed and checked by the engine.
pub fn parse_model(model_json: &str) -> Result<PublicModel> {
    serde_json::from_str(model_json)
        .map_err(|e| Error::MalformedModel(format!("model of the card: {e}")))
}

/// A buyer's client key and what it does.
#[derive(Debug)]
pub struct Buyer {
    client: ClientKey,
}

impl Buyer {
    /// A fresh key for parameter set `param_set`.
    pub fn generate(param_set: u16) -> Result<Self> {
        Ok(Self { client: ClientKey::generate(ParamSetId(param_set))? })
    }

    /// A stored key (the engine's versioned, size-limited format).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        Ok(Self { client: ClientKey::from_bytes(bytes)? })
    }

    /// The key, serialized (secret: the caller stores it encrypted).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        self.client.to_bytes()
    }

    /// Parameter set of the key.
    pub fn param_set(&self) -> u16 {
        self.client.param_set().0
    }

    /// The key blob `model` needs registered: the evaluation key for a model that bootstraps, the
    /// public key its results are sanitized with for a leveled one.
    pub fn key_for(&self, model: &PublicModel) -> Result<Vec<u8>> {
        self.check(model)?;
        self.client.key_for(model)?.to_bytes()
    }

    /// Encrypt `values` (rows of `model`'s schema, row after row) into an input blob.
    pub fn encrypt(&self, model: &PublicModel, values: &[f64]) -> Result<Vec<u8>> {
        self.check(model)?;
        let n = model.schema.features.len();
        if n == 0 || values.is_empty() || !values.len().is_multiple_of(n) {
            return Err(Error::SchemaMismatch(format!(
                "{} values are not whole rows of {n} features",
                values.len()
            )));
        }
        let rows: Vec<Vec<f64>> = values.chunks(n).map(<[f64]>::to_vec).collect();
        self.client.encrypt_rows(model, &rows)?.to_bytes()
    }

    /// Decrypt a result blob of `model` and decode it (dequantize, name the classes).
    pub fn decrypt(&self, model: &PublicModel, result: &[u8]) -> Result<Decoded> {
        self.check(model)?;
        let raw = self.client.decrypt(model, &EncryptedResult::from_bytes(result)?)?;
        Ok(model.decode(raw))
    }

    fn check(&self, model: &PublicModel) -> Result<()> {
        if model.param_set != self.client.param_set() {
            return Err(Error::NonConformant {
                what: "buyer key",
                why: format!(
                    "it is for parameter set {}, the model needs {}",
                    self.client.param_set().0,
                    model.param_set.0
                ),
            });
        }
        Ok(())
    }
}

/// Whether the card's model (`card.model` as JSON) needs a bootstrapping evaluation key (else
/// the buyer registers only its public key); refuses a model the engine cannot read.
#[wasm_bindgen(js_name = needsEvaluationKey)]
pub fn needs_evaluation_key(model_json: &str) -> std::result::Result<bool, JsError> {
    Ok(parse_model(model_json).map_err(js)?.needs_evaluation_key())
}

/// The buyer's FHE key in the browser.
#[wasm_bindgen]
#[derive(Debug)]
pub struct BuyerKey(Buyer);

#[wasm_bindgen]
impl BuyerKey {
    /// A fresh key for parameter set `param_set`.
    pub fn generate(param_set: u16) -> std::result::Result<BuyerKey, JsError> {
        Buyer::generate(param_set).map(Self).map_err(js)
    }

    /// A stored key.
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(bytes: &[u8]) -> std::result::Result<BuyerKey, JsError> {
        Buyer::from_bytes(bytes).map(Self).map_err(js)
    }

    /// The key, serialized (secret).
    #[wasm_bindgen(js_name = toBytes)]
    pub fn to_bytes(&self) -> std::result::Result<Vec<u8>, JsError> {
        self.0.to_bytes().map_err(js)
    }

    /// Parameter set of the key.
    #[wasm_bindgen(getter, js_name = paramSet)]
    pub fn param_set(&self) -> u16 {
        self.0.param_set()
    }

    /// The key blob the card's model needs registered ([`Buyer::key_for`]).
    #[wasm_bindgen(js_name = keyFor)]
    pub fn key_for(&self, model_json: &str) -> std::result::Result<Vec<u8>, JsError> {
        self.0.key_for(&parse_model(model_json).map_err(js)?).map_err(js)
    }

    /// Encrypt rows (flattened) of the card's model into an input blob.
    pub fn encrypt(
        &self,
        model_json: &str,
        values: &[f64],
    ) -> std::result::Result<Vec<u8>, JsError> {
        self.0.encrypt(&parse_model(model_json).map_err(js)?, values).map_err(js)
    }

    /// Decrypt and decode a result blob; returns [`Decoded`] as JSON.
    pub fn decrypt(&self, model_json: &str, result: &[u8]) -> std::result::Result<String, JsError> {
        let decoded = self.0.decrypt(&parse_model(model_json).map_err(js)?, result).map_err(js)?;
        serde_json::to_string(&decoded).map_err(|e| JsError::new(&e.to_string()))
    }
}

fn js(e: Error) -> JsError {
    JsError::new(&e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> (modelmart_fhe::CompiledModel, modelmart_fhe::Dataset) {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../sdk/fhe/fixtures");
        let onnx = std::fs::read(format!("{dir}/models/logreg_breast_cancer.onnx")).unwrap();
        let train =
            modelmart_fhe::Dataset::load(format!("{dir}/data/breast_cancer_train.csv")).unwrap();
        let model = modelmart_fhe::onnx::import_onnx(&onnx).unwrap();
        let compiled = modelmart_fhe::CompiledModel::compile(
            &model,
            &train.x,
            modelmart_fhe::CompileOptions::default(),
        )
        .unwrap();
        (compiled, train)
    }

    #[test]
    fn a_browser_round_trip_equals_the_clear_model() {
        let (compiled, train) = fixture();
        let public = compiled.public();
        let json = serde_json::to_string(&public).unwrap();
        let model = parse_model(&json).unwrap();
        let buyer =
            Buyer::from_bytes(&Buyer::generate(public.param_set.0).unwrap().to_bytes().unwrap())
                .unwrap();
        let key = buyer.key_for(&model).unwrap();
        let server = modelmart_fhe::ServerKey::expand(
            &modelmart_fhe::EvaluationKey::from_bytes(&key).unwrap(),
        )
        .unwrap();
        let values: Vec<f64> = train.x[..2].concat();
        let input = buyer.encrypt(&model, &values).unwrap();
        let input = modelmart_fhe::EncryptedInput::from_bytes(&input).unwrap();
        let (result, _) = modelmart_fhe::Evaluator::new(&compiled, Some(&server))
            .unwrap()
            .evaluate(&input, 2)
            .unwrap();
        let decoded = buyer.decrypt(&model, &result.to_bytes().unwrap()).unwrap();
        for (i, raw) in decoded.raw.iter().enumerate() {
            assert_eq!(raw, &compiled.predict_clear(&train.x[i]).unwrap());
        }
        assert_eq!(decoded.labels.as_ref().map(Vec::len), Some(2));
    }

    #[test]
    fn bad_input_is_refused_in_words() {
        let (compiled, _) = fixture();
        let model = compiled.public();
        let buyer = Buyer::generate(model.param_set.0).unwrap();
        assert!(
            buyer.encrypt(&model, &[1.0, 2.0]).unwrap_err().to_string().contains("30 features")
        );
        assert!(buyer.decrypt(&model, b"not a result").is_err());
        assert!(Buyer::from_bytes(&[0u8; 64]).is_err());
        assert!(parse_model("{}").is_err());
    }
}
