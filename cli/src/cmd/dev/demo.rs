//! The demo models `modelmart dev` lists, compiled from data bundled into the binary: a logistic
//! regression (full scores) and a depth-5 decision tree (label only: a tree's full scores cannot
//! be sanitized) on the breast-cancer data (scikit-learn exports).

use std::time::Duration;

use alloy::primitives::Address;
use modelmart_fhe::{CompiledModel, Dataset, model::Model, onnx::import_onnx};
use modelmart_sdk::{
    ModelId, Seller, Terms,
    card::{self, ListingSpec, ModelCard, OutputMode},
    dev::ETH,
};

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
pub(super) fn demos() -> eyre::Result<Vec<Demo>> {
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
pub(super) fn fixtures_dir() -> &'static str {
    FIXTURES
}

/// A demo model listed and accepted.
pub(super) struct Listed {
    /// Its listing id.
    pub(super) model_id: ModelId,
    /// Its price per row in words.
    pub(super) price: &'static str,
    /// The model.
    pub(super) demo: Demo,
}

/// List the demos with `operator`: the logistic regression priced in the native coin, the tree
/// in the permit token `token`; wait for the operator to accept each.
pub(super) async fn list(
    seller: &Seller,
    operator: Address,
    token: Address,
    demos: Vec<Demo>,
) -> eyre::Result<Vec<Listed>> {
    let native = Terms {
        operator,
        token: Address::ZERO,
        price_per_row: ETH / 1_000,
        operator_fee_per_row: ETH / 5_000,
        max_rows: 64,
        job_deadline: 600,
    };
    let musd = Terms {
        token,
        price_per_row: 500_000,
        operator_fee_per_row: 100_000,
        max_rows: 16,
        ..native.clone()
    };
    let terms = [(native, "0.0012 ETH/row"), (musd, "0.60 mUSD/row")];
    let mut listed = Vec::new();
    for (demo, (terms, price)) in demos.into_iter().zip(terms) {
        let p = seller.publish(&demo.compiled, &demo.card, &terms).await?;
        seller.wait_accepted(p.model_id, Duration::from_secs(120)).await?;
        listed.push(Listed { model_id: p.model_id, price, demo });
    }
    Ok(listed)
}
