//! The demo models `modelmart dev` lists, compiled from data bundled into the binary: a logistic
//! regression (full scores) and a depth-5 decision tree (label only: a tree's full scores cannot
//! be sanitized) on the breast-cancer data (scikit-learn exports).

use modelmart_fhe::{CompiledModel, Dataset, model::Model, onnx::import_onnx};
use modelmart_sdk::card::{self, ListingSpec, ModelCard, OutputMode};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../sdk/fhe/fixtures");
const LOGREG: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../sdk/fhe/fixtures/models/logreg_breast_cancer.onnx"
));
const TREE: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../sdk/fhe/fixtures/models/tree5_breast_cancer.onnx"
));
const TRAIN: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../sdk/fhe/fixtures/data/breast_cancer_train.csv"
));
const TEST: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../sdk/fhe/fixtures/data/breast_cancer_test.csv"
));

/// A compiled demo model with its card and the test split buyers can try it on.
pub(crate) struct Demo {
    pub(crate) compiled: CompiledModel,
    pub(crate) card: ModelCard,
    pub(crate) test: Dataset,
}

/// Compile a model for a card: features named from the training split, accuracy measured on
/// the test split, FHE agreement on the spec's test rows.
pub(crate) fn prepare(
    model: Model,
    train: &Dataset,
    test: Dataset,
    spec: &ListingSpec<'_>,
) -> eyre::Result<Demo> {
    let (compiled, card) = card::prepare_listing(model, train, &test, spec)?;
    Ok(Demo { compiled, card, test })
}

/// The two demo models.
pub(crate) fn demos() -> eyre::Result<Vec<Demo>> {
    let train = Dataset::from_csv(TRAIN)?;
    let test = Dataset::from_csv(TEST)?;
    Ok(vec![
        prepare(
            import_onnx(LOGREG)?,
            &train,
            test.clone(),
            &ListingSpec {
                fhe_rows: 4,
                ..ListingSpec::new(
                    "Breast cancer screening (logistic regression)",
                    "Malignant vs benign from 30 cell-nucleus measurements (Wisconsin data), scikit-learn LogisticRegression. No evaluation key needed; results are sanitized.",
                )
            },
        )?,
        prepare(
            import_onnx(TREE)?,
            &train,
            test,
            &ListingSpec {
                output_mode: OutputMode::LabelOnly,
                fhe_rows: 2,
                ..ListingSpec::new(
                    "Breast cancer screening (decision tree, depth 5)",
                    "The same task with a scikit-learn DecisionTreeClassifier of depth 5, evaluated with programmable bootstrapping. Label only: the class is decided under FHE and washed.",
                )
            },
        )?,
    ])
}

/// Where the bundled fixtures live in the source tree (for messages).
pub(crate) fn fixtures_dir() -> &'static str {
    FIXTURES
}
