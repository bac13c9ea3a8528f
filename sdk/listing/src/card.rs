//! The public model card: the JSON blob whose SHA-256 a listing stores as `cardHash`. It tells a
//! buyer what the model does, how well (in the clear and under FHE), what it costs, what its
//! output reveals, and everything needed to encode, encrypt, decrypt and decode
//! ([`PublicModel`]), and nothing of the weights.

use modelmart_fhe::{CompiledModel, PublicModel, cost::CostModel, model::Task};
use modelmart_primitives::BlobKind;
use serde::{Deserialize, Serialize};

use crate::seal::{CardListing, SealContext};
use sha2::{Digest, Sha256};

/// `format` of every card.
pub const CARD_FORMAT: &str = "modelmart-card";
/// Current card version.
pub const CARD_VERSION: u32 = 1;
/// Largest card accepted: the card blob kind's limit, which the operator's blob endpoint and the
/// indexer enforce too.
pub const MAX_CARD_BYTES: usize = BlobKind::Card.max_bytes() as usize;

/// Why a card was refused.
#[derive(Debug, thiserror::Error)]
pub enum CardError {
    /// The bytes are not a card of a known format and version.
    #[error("not a ModelMart card: {0}")]
    Format(String),
    /// The card is larger than [`MAX_CARD_BYTES`].
    #[error("card of {0} bytes is over the {MAX_CARD_BYTES}-byte limit")]
    TooLarge(usize),
    /// A field is out of range.
    #[error("invalid card: {0}")]
    Invalid(String),
    /// The engine could not compile or measure the model.
    #[error(transparent)]
    Fhe(#[from] modelmart_fhe::Error),
    /// The engine cannot produce this output mode for this model.
    #[error("output mode {} is not available for this model: {why}", mode.name())]
    Unsupported {
        /// The mode asked for.
        mode: OutputMode,
        /// Why (the engine's words).
        why: String,
    },
    /// The card's results would not be sanitized: full scores of a bootstrapped model.
    #[error(
        "full scores of a tree ensemble or network cannot be sanitized (their noise comes from \
         bootstraps under keys the buyer made, so a result could leak the model): list it with \
         output mode rounded_scores or label_only"
    )]
    Unsanitized,
}

/// What a result reveals, chosen by the seller per listing (defined once in
/// `modelmart-primitives`, and computed by the engine as such).
pub use modelmart_primitives::OutputMode;

/// Whether a card may offer `mode` for a model: the mode must be what its program computes,
/// and its results must be sanitized.
fn check_mode(mode: OutputMode, model: &PublicModel) -> Result<(), CardError> {
    if mode != model.encoding.output() {
        return Err(CardError::Invalid(format!(
            "output mode {} offered by a model compiled for {}",
            mode.name(),
            model.encoding.output().name()
        )));
    }
    if !model.sanitized() {
        return Err(CardError::Unsanitized);
    }
    Ok(())
}

/// Quality on the seller's public test split.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Accuracy {
    /// `accuracy` for classification, `r2` for regression.
    pub metric: String,
    /// The float model (as trained).
    pub float: f64,
    /// The quantized model (what runs).
    pub quantized: f64,
    /// Share of the `fhe_rows` test rows where FHE equals the clear quantized model (1.0 = all);
    /// `None` when no row was run under FHE (nothing is claimed).
    pub fhe_agreement: Option<f64>,
    /// Test rows encrypted, evaluated and decrypted for `fhe_agreement`.
    pub fhe_rows: usize,
    /// Test rows measured.
    pub test_rows: usize,
}

impl Accuracy {
    /// Measure on a labelled `test` split: the float model, the quantized model (every row) and
    /// FHE agreement on the first `fhe_rows` rows (encrypted with a fresh key, evaluated,
    /// decrypted, compared with the clear quantized result).
    pub fn measure(
        model: &modelmart_fhe::model::Model,
        compiled: &CompiledModel,
        test: &modelmart_fhe::Dataset,
        fhe_rows: usize,
    ) -> modelmart_fhe::Result<Self> {
        let classification = matches!(model.task, Task::Classification { .. });
        let clear: Vec<Vec<i64>> =
            test.x.iter().map(|x| compiled.predict_clear(x)).collect::<Result<_, _>>()?;
        let n = test.y.len().max(1) as f64;
        let quality = |pred: &dyn Fn(usize) -> f64| -> f64 {
            if classification {
                (0..test.y.len()).filter(|i| pred(*i) == test.y[*i]).count() as f64 / n
            } else {
                let mean = test.y.iter().sum::<f64>() / n;
                let ss_tot: f64 = test.y.iter().map(|y| (y - mean).powi(2)).sum();
                let ss_res: f64 = (0..test.y.len()).map(|i| (test.y[i] - pred(i)).powi(2)).sum();
                1.0 - ss_res / ss_tot.max(f64::MIN_POSITIVE)
            }
        };
        let float = quality(&|i| {
            let s = model.scores(&test.x[i]);
            if classification { model.class_of(&s) as f64 } else { s[0] }
        });
        let quantized = quality(&|i| {
            if classification {
                compiled.class_of(&clear[i]) as f64
            } else {
                compiled.dequantize(&clear[i])[0]
            }
        });
        let rows = fhe_rows.min(test.x.len());
        let mut agree = 0;
        if rows > 0 {
            let client = modelmart_fhe::ClientKey::generate(compiled.param_set)?;
            let server = modelmart_fhe::ServerKey::expand(&client.key_for(&compiled.public())?)?;
            let input = client.encrypt_rows(&compiled.public(), &test.x[..rows])?;
            let (result, _) =
                modelmart_fhe::Evaluator::new(compiled, Some(&server))?.evaluate(&input, rows)?;
            let got = client.decrypt(&compiled.public(), &result)?;
            agree = got.iter().zip(&clear).filter(|(a, b)| a == b).count();
        }
        Ok(Self {
            metric: if classification { "accuracy" } else { "r2" }.into(),
            float,
            quantized,
            fhe_agreement: (rows > 0).then(|| agree as f64 / rows as f64),
            fhe_rows: rows,
            test_rows: test.x.len(),
        })
    }
}

/// What a seller writes on a card besides what the engine measures.
#[derive(Clone, Copy, Debug)]
pub struct ListingSpec<'a> {
    /// Short name.
    pub name: &'a str,
    /// What the model does, for whom, trained on what.
    pub description: &'a str,
    /// Unit of a regression model's value (empty: none).
    pub unit: &'a str,
    /// What a result reveals.
    pub output_mode: OutputMode,
    /// Test rows checked under FHE for the card's agreement figure.
    pub fhe_rows: usize,
}

impl<'a> ListingSpec<'a> {
    /// A spec with no unit, the `scores` output mode and no rows checked under FHE.
    pub fn new(name: &'a str, description: &'a str) -> Self {
        Self { name, description, unit: "", output_mode: OutputMode::Scores, fhe_rows: 0 }
    }
}

/// Compile `model` for a listing and write its card: features named from the `train` split's
/// header, quantization calibrated on `train` for the spec's output mode, accuracy measured on
/// `test` with FHE agreement on its first `fhe_rows` rows, and the default cost model. A mode
/// the model cannot offer (a label for a regression model, full scores of a tree ensemble) is
/// refused in words.
pub fn prepare_listing(
    mut model: modelmart_fhe::model::Model,
    train: &modelmart_fhe::Dataset,
    test: &modelmart_fhe::Dataset,
    spec: &ListingSpec<'_>,
) -> Result<(CompiledModel, ModelCard), CardError> {
    if train.names.len() != model.n_features() {
        return Err(CardError::Invalid(format!(
            "the training data has {} features, the model takes {}",
            train.names.len(),
            model.n_features()
        )));
    }
    model.features = train.names.clone();
    let mode = spec.output_mode;
    let opts = modelmart_fhe::CompileOptions::with_output(mode);
    let compiled = CompiledModel::compile(&model, &train.x, opts).map_err(|e| match e {
        modelmart_fhe::Error::Unsupported(why) => CardError::Unsupported { mode, why },
        e => e.into(),
    })?;
    if !compiled.public().sanitized() {
        return Err(CardError::Unsanitized);
    }
    let accuracy = Accuracy::measure(&model, &compiled, test, spec.fhe_rows)?;
    let card = ModelCard::new(
        &compiled,
        spec.name,
        spec.description,
        accuracy,
        mode,
        &CostModel::default(),
    )?
    .with_unit(spec.unit)?;
    Ok((compiled, card))
}

/// What a job costs to compute.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CardCost {
    /// Programmable bootstraps per row.
    pub bootstraps_per_row: usize,
    /// Expected server time for one row, milliseconds (the engine's cost model).
    pub expected_ms_per_row: f64,
    /// Whether the buyer must register an evaluation key first.
    pub evaluation_key: bool,
}

/// A public model card.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    /// Always [`CARD_FORMAT`].
    pub format: String,
    /// Always [`CARD_VERSION`] for cards this SDK writes.
    pub version: u32,
    /// Short name.
    pub name: String,
    /// What the model does, for whom, trained on what.
    pub description: String,
    /// `classification` or `regression` (the labels are in `model.task`).
    pub task: String,
    /// What a result reveals.
    pub output_mode: OutputMode,
    /// What that output mode can leak over many queries.
    pub leakage: String,
    /// What a result ciphertext reveals beyond the output ([`PublicModel::result_privacy`]).
    #[serde(default)]
    pub result_privacy: String,
    /// Quality in the clear and under FHE.
    pub accuracy: Accuracy,
    /// Compute cost.
    pub cost: CardCost,
    /// Encoding, encryption and decoding parameters.
    pub model: PublicModel,
    /// Unit of a regression model's predicted value (say `mmHg`), shown with it; never set
    /// for classifiers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// The listing this card was published for (chain, market, seller, operator); written by
    /// [`ModelCard::for_listing`] when the seller publishes. An operator serves a card only
    /// under the listing it names, so a copier's re-listing of it is declined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listing: Option<CardListing>,
}

/// Longest unit a card names.
pub const MAX_UNIT_CHARS: usize = 32;

/// Why `unit` cannot be a card's unit for a model of `task`, if it cannot.
fn unit_problem(task: &Task, unit: &str) -> Option<String> {
    if unit.chars().count() > MAX_UNIT_CHARS || unit.chars().any(char::is_control) {
        return Some(format!("a unit is at most {MAX_UNIT_CHARS} printable characters"));
    }
    matches!(task, Task::Classification { .. })
        .then(|| "a unit is for the value of a regression model, not for classes".into())
}

impl ModelCard {
    /// The card of a compiled model.
    pub fn new(
        compiled: &CompiledModel,
        name: &str,
        description: &str,
        accuracy: Accuracy,
        output_mode: OutputMode,
        cost_model: &CostModel,
    ) -> Result<Self, CardError> {
        check_mode(output_mode, &compiled.public())?;
        let estimate = cost_model.estimate(compiled, 1);
        let task = match compiled.task {
            Task::Classification { .. } => "classification",
            Task::Regression => "regression",
        };
        Ok(Self {
            format: CARD_FORMAT.into(),
            version: CARD_VERSION,
            name: name.into(),
            description: description.into(),
            task: task.into(),
            output_mode,
            leakage: output_mode.leakage().into(),
            result_privacy: compiled.public().result_privacy().into(),
            accuracy,
            cost: CardCost {
                bootstraps_per_row: estimate.bootstraps_per_row,
                expected_ms_per_row: estimate.expected_seconds * 1e3,
                evaluation_key: estimate.needs_evaluation_key,
            },
            model: compiled.public(),
            unit: None,
            listing: None,
        })
    }

    /// The same card naming `unit` as the unit of its predicted value (regression models;
    /// surrounding space is dropped, an empty unit names none).
    pub fn with_unit(mut self, unit: &str) -> Result<Self, CardError> {
        let unit = unit.trim();
        if unit.is_empty() {
            self.unit = None;
            return Ok(self);
        }
        if let Some(why) = unit_problem(&self.model.task, unit) {
            return Err(CardError::Invalid(why));
        }
        self.unit = Some(unit.into());
        Ok(self)
    }

    /// The same card naming the listing it is published for (its hash changes with it).
    pub fn for_listing(mut self, ctx: &SealContext) -> Self {
        self.listing = Some(ctx.into());
        self
    }

    /// Whether this card names the listing `ctx` (a card that names none does not).
    pub fn names_listing(&self, ctx: &SealContext) -> bool {
        self.listing.as_ref().is_some_and(|l| l.names(ctx))
    }

    /// The blob to upload (its SHA-256 is the listing's `cardHash`).
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// SHA-256 of [`ModelCard::to_bytes`].
    pub fn hash(&self) -> [u8; 32] {
        Sha256::digest(self.to_bytes()).into()
    }

    /// Parse and check a card blob.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CardError> {
        if bytes.len() > MAX_CARD_BYTES {
            return Err(CardError::TooLarge(bytes.len()));
        }
        let card: Self =
            serde_json::from_slice(bytes).map_err(|e| CardError::Format(e.to_string()))?;
        if card.format != CARD_FORMAT || card.version != CARD_VERSION {
            return Err(CardError::Format(format!("{} v{}", card.format, card.version)));
        }
        check_mode(card.output_mode, &card.model)?;
        if card.name.trim().is_empty() || card.name.len() > 120 {
            return Err(CardError::Invalid("name must be 1-120 characters".into()));
        }
        if card.model.schema.is_empty() || card.model.outputs == 0 {
            return Err(CardError::Invalid("a model needs inputs and outputs".into()));
        }
        if card.model.output_center.len() != card.model.outputs {
            return Err(CardError::Invalid("output_center does not match outputs".into()));
        }
        if card.leakage != card.output_mode.leakage()
            || card.result_privacy != card.model.result_privacy()
        {
            return Err(CardError::Invalid(
                "the leakage or result-privacy text is not the one of its mode and model".into(),
            ));
        }
        if card.cost.bootstraps_per_row != card.model.bootstraps_per_row {
            return Err(CardError::Invalid("cost and model disagree on bootstraps".into()));
        }
        if let Some(why) = card.unit.as_deref().and_then(|u| unit_problem(&card.model.task, u)) {
            return Err(CardError::Invalid(why));
        }
        Ok(card)
    }
}
