//! The seller's side for the browser: compile a model file on calibration data and measure it for
//! its card ([`prepare`]), and seal the compiled model to the chosen operator ([`seal`]).

use modelmart_fhe::{Dataset, model::ModelFile, onnx::import_onnx};
use modelmart_listing::{
    card::{self, CardError, ListingSpec, OutputMode},
    seal::SealContext,
};
use wasm_bindgen::prelude::*;

/// What a listing publishes, before sealing: the card blob and the compiled model file.
#[derive(Debug)]
pub struct Prepared {
    /// The card blob (its SHA-256 is the listing's card hash).
    pub card: Vec<u8>,
    /// The compiled model file (what is sealed to the operator; never published in the clear).
    pub model: Vec<u8>,
}

/// Compile `model_file` (ONNX, or the project's JSON model file) with quantization calibrated on
/// `train_csv` for the spec's output mode, measure it on `test_csv` (FHE agreement on its first
/// `fhe_rows` rows) and write its card. Both CSVs: header of feature names, label (or target)
/// in the last column.
pub fn prepare(
    model_file: &[u8],
    train_csv: &str,
    test_csv: &str,
    spec: &ListingSpec<'_>,
) -> Result<Prepared, CardError> {
    let model = if model_file.first() == Some(&b'{') {
        ModelFile::from_json(model_file)?
    } else {
        import_onnx(model_file)?
    };
    let train = Dataset::from_csv(train_csv)?;
    let test = Dataset::from_csv(test_csv)?;
    let (compiled, card) = card::prepare_listing(model, &train, &test, spec)?;
    Ok(Prepared { card: card.to_bytes(), model: compiled.to_json()? })
}

/// Whom a listing is for: chain id, market, seller and operator addresses (20 bytes each).
#[derive(Clone, Copy, Debug)]
pub struct Binding<'a> {
    /// EIP-155 chain id.
    pub chain_id: u64,
    /// The market contract.
    pub market: &'a [u8],
    /// The seller (the connected wallet).
    pub seller: &'a [u8],
    /// The chosen operator.
    pub operator: &'a [u8],
}

impl Binding<'_> {
    /// The listing as the seal and the card name it.
    fn context(&self) -> Result<SealContext, String> {
        let addr = |a: &[u8], what: &str| -> Result<[u8; 20], String> {
            a.try_into().map_err(|_| format!("the {what} address is not 20 bytes"))
        };
        Ok(SealContext {
            chain_id: self.chain_id,
            market: addr(self.market, "market")?,
            seller: addr(self.seller, "seller")?,
            operator: addr(self.operator, "operator")?,
        })
    }
}

/// The card blob naming the listing it is published for (upload this one and list its hash:
/// the operator declines a card that names another listing).
pub fn name_listing(card: &[u8], b: Binding<'_>) -> Result<Vec<u8>, String> {
    let card = modelmart_listing::card::ModelCard::from_bytes(card).map_err(|e| e.to_string())?;
    Ok(card.for_listing(&b.context()?).to_bytes())
}

/// Seal a compiled model file to the operator's X25519 key, bound to the card hash and to the
/// listing's chain, market, seller and operator (a copier's re-listing does not open).
pub fn seal(
    model: &[u8],
    operator_key: &[u8],
    card_hash: &[u8],
    b: Binding<'_>,
) -> Result<Vec<u8>, String> {
    let key: &[u8; 32] = operator_key.try_into().map_err(|_| "the operator key is not 32 bytes")?;
    let hash: &[u8; 32] = card_hash.try_into().map_err(|_| "the card hash is not 32 bytes")?;
    modelmart_listing::seal::seal(model, key, hash, &b.context()?).map_err(|e| e.to_string())
}

/// A prepared listing, for JavaScript.
#[wasm_bindgen(js_name = PreparedListing)]
#[derive(Debug)]
pub struct JsPrepared(Prepared);

#[wasm_bindgen(js_class = PreparedListing)]
impl JsPrepared {
    /// The card blob.
    #[wasm_bindgen(getter)]
    pub fn card(&self) -> Vec<u8> {
        self.0.card.clone()
    }

    /// The compiled model file (to be sealed).
    #[wasm_bindgen(getter)]
    pub fn model(&self) -> Vec<u8> {
        self.0.model.clone()
    }
}

/// [`prepare`] for JavaScript; `output_mode` is the listing's on-chain code (0 scores, 1
/// rounded scores, 2 label only).
#[wasm_bindgen(js_name = prepareListing)]
#[allow(clippy::too_many_arguments)] // JavaScript's positional call, one argument per field
pub fn prepare_listing(
    model_file: &[u8],
    train_csv: &str,
    test_csv: &str,
    name: &str,
    description: &str,
    unit: &str,
    fhe_rows: usize,
    output_mode: u8,
) -> Result<JsPrepared, JsError> {
    let output_mode =
        OutputMode::from_code(output_mode).map_err(|e| JsError::new(&e.to_string()))?;
    let spec = ListingSpec { name, description, unit, output_mode, fhe_rows };
    prepare(model_file, train_csv, test_csv, &spec)
        .map(JsPrepared)
        .map_err(|e| JsError::new(&e.to_string()))
}

/// A JavaScript chain id (a number) as `u64`, if it is a whole number below 2^53.
fn chain_id_of(chain_id: f64) -> Result<u64, JsError> {
    if !((0.0..=9_007_199_254_740_991.0).contains(&chain_id) && chain_id.fract() == 0.0) {
        return Err(JsError::new("the chain id is not a whole number below 2^53"));
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // checked just above
    Ok(chain_id as u64)
}

/// [`name_listing`] for JavaScript; the chain id is a JavaScript number (safe below 2^53).
#[wasm_bindgen(js_name = nameListing)]
pub fn name_listing_js(
    card: &[u8],
    chain_id: f64,
    market: &[u8],
    seller: &[u8],
    operator: &[u8],
) -> Result<Vec<u8>, JsError> {
    let chain_id = chain_id_of(chain_id)?;
    name_listing(card, Binding { chain_id, market, seller, operator }).map_err(|e| JsError::new(&e))
}

/// [`seal`] for JavaScript; the chain id is a JavaScript number (safe below 2^53).
#[wasm_bindgen(js_name = sealModel)]
#[allow(clippy::too_many_arguments)] // JavaScript's positional call, one argument per field
pub fn seal_model(
    model: &[u8],
    operator_key: &[u8],
    card_hash: &[u8],
    chain_id: f64,
    market: &[u8],
    seller: &[u8],
    operator: &[u8],
) -> Result<Vec<u8>, JsError> {
    let chain_id = chain_id_of(chain_id)?;
    seal(model, operator_key, card_hash, Binding { chain_id, market, seller, operator })
        .map_err(|e| JsError::new(&e))
}

#[cfg(test)]
mod tests {
    use modelmart_listing::{card::ModelCard, seal::OperatorKey};
    use sha2::{Digest, Sha256};

    use super::*;

    const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../sdk/fhe/fixtures");

    fn read(path: &str) -> Vec<u8> {
        std::fs::read(format!("{DIR}/{path}")).unwrap()
    }

    /// [`prepare`] in the `scores` output mode.
    fn prep(
        model: &[u8],
        train: &str,
        test: &str,
        name: &str,
        description: &str,
        unit: &str,
        fhe_rows: usize,
    ) -> Result<Prepared, CardError> {
        let spec =
            ListingSpec { name, description, unit, output_mode: OutputMode::Scores, fhe_rows };
        prepare(model, train, test, &spec)
    }

    /// The browser lists a tree ensemble label-only or rounded, never with full scores (they
    /// could not be sanitized); a mode code that does not exist is refused.
    #[test]
    fn the_output_mode_is_the_sellers_and_every_result_is_sanitized() {
        let train = String::from_utf8(read("data/breast_cancer_train.csv")).unwrap();
        let test = String::from_utf8(read("data/breast_cancer_test.csv")).unwrap();
        let tree = read("models/tree5_breast_cancer.onnx");
        let p = prepare_listing(&tree, &train, &test, "T", "", "", 0, 2).unwrap();
        let card = ModelCard::from_bytes(&p.0.card).unwrap();
        assert_eq!(card.output_mode, OutputMode::LabelOnly);
        assert!(card.model.sanitized());
        let e = prep(&tree, &train, &test, "T", "", "", 0).unwrap_err();
        assert!(matches!(e, CardError::Unsanitized), "{e}");
        assert!(e.to_string().contains("rounded_scores or label_only"), "{e}");
    }

    #[test]
    fn a_listing_prepared_in_the_browser_opens_at_its_operator() {
        let train = String::from_utf8(read("data/breast_cancer_train.csv")).unwrap();
        let test = String::from_utf8(read("data/breast_cancer_test.csv")).unwrap();
        let p = prep(&read("models/logreg_breast_cancer.onnx"), &train, &test, "LR", "d", "", 2)
            .unwrap();
        let card = ModelCard::from_bytes(&p.card).unwrap();
        assert_eq!(card.accuracy.fhe_agreement, Some(1.0));
        assert_eq!(card.model.schema.features[0].name, "mean_radius");
        let op = OperatorKey::generate();
        let b = Binding { chain_id: 7, market: &[1; 20], seller: &[2; 20], operator: &[3; 20] };
        let ctx = SealContext { chain_id: 7, market: [1; 20], seller: [2; 20], operator: [3; 20] };
        // the uploaded card names this listing, and only this one
        let named = name_listing(&p.card, b).unwrap();
        let named_card = ModelCard::from_bytes(&named).unwrap();
        assert!(named_card.names_listing(&ctx));
        assert!(!named_card.names_listing(&SealContext { seller: [9; 20], ..ctx }));
        assert_eq!(named_card.model, card.model);
        let hash: [u8; 32] = Sha256::digest(&named).into();
        let sealed = seal(&p.model, &op.public_bytes(), &hash, b).unwrap();
        assert_eq!(op.open(&sealed, &hash, &ctx).unwrap(), p.model);
        assert!(seal(&p.model, &[0u8; 31], &hash, b).unwrap_err().contains("32 bytes"));
        let short = Binding { seller: &[2; 19], ..b };
        assert!(seal(&p.model, &op.public_bytes(), &hash, short).unwrap_err().contains("seller"));
    }

    #[test]
    fn bad_files_are_refused_in_words() {
        let train = String::from_utf8(read("data/breast_cancer_train.csv")).unwrap();
        let e = prep(b"not a model", &train, &train, "x", "", "", 0).unwrap_err().to_string();
        assert!(e.contains("malformed"), "{e}");
        let e = prep(
            &read("models/logreg_breast_cancer.onnx"),
            "a,b\n1,2\n",
            "a,b\n1,2\n",
            "x",
            "",
            "",
            0,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("features"), "{e}");
    }

    #[test]
    fn a_regression_card_names_its_unit_and_a_classifier_cannot() {
        let train = String::from_utf8(read("data/diabetes_train.csv")).unwrap();
        let test = String::from_utf8(read("data/diabetes_test.csv")).unwrap();
        let ridge = read("models/ridge_diabetes.onnx");
        let p = prep(&ridge, &train, &test, "Ridge", "", " progression score ", 0).unwrap();
        let card = ModelCard::from_bytes(&p.card).unwrap();
        assert_eq!(card.unit.as_deref(), Some("progression score"));
        let none = prep(&ridge, &train, &test, "Ridge", "", "  ", 0).unwrap();
        assert_eq!(ModelCard::from_bytes(&none.card).unwrap().unit, None);
        let long = "x".repeat(33);
        let e = prep(&ridge, &train, &test, "Ridge", "", &long, 0).unwrap_err().to_string();
        assert!(e.contains("at most 32"), "{e}");
        // a classifier has classes, not a unit: refused when made and when read
        let (bc_train, bc_test) = (
            String::from_utf8(read("data/breast_cancer_train.csv")).unwrap(),
            String::from_utf8(read("data/breast_cancer_test.csv")).unwrap(),
        );
        let logreg = read("models/logreg_breast_cancer.onnx");
        let e = prep(&logreg, &bc_train, &bc_test, "LR", "", "mm", 0).unwrap_err().to_string();
        assert!(e.contains("regression"), "{e}");
        let ok = prep(&logreg, &bc_train, &bc_test, "LR", "", "", 0).unwrap();
        let mut tampered: serde_json::Value = serde_json::from_slice(&ok.card).unwrap();
        tampered["unit"] = "mm".into();
        let e = ModelCard::from_bytes(&serde_json::to_vec(&tampered).unwrap()).unwrap_err();
        assert!(e.to_string().contains("regression"), "{e}");
    }
}
