//! The seller → operator → buyer data path without a chain: a card is published, the compiled
//! model is sealed to the operator and bound to that card, the operator opens and evaluates it,
//! and the buyer encrypts and decrypts with nothing but the card.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use modelmart_fhe::{
    ClientKey, CompileOptions, CompiledModel, Dataset, Evaluator, ServerKey, cost::CostModel,
    onnx::import_onnx,
};
use modelmart_sdk::{
    card::{
        Accuracy, CardError, ListingSpec, MAX_CARD_BYTES, ModelCard, OutputMode, prepare_listing,
    },
    seal::{OperatorKey, SealContext, SealError, seal},
};

fn fixture(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fhe/fixtures").join(path)
}

fn compiled(model: &str, data: &str) -> (CompiledModel, Dataset) {
    compiled_as(model, data, OutputMode::Scores)
}

/// A fixture model compiled on its training split for output mode `mode`.
fn compiled_as(model: &str, data: &str, mode: OutputMode) -> (CompiledModel, Dataset) {
    let load = |split: &str| Dataset::load(fixture(&format!("data/{data}_{split}.csv"))).unwrap();
    let mut m =
        import_onnx(&std::fs::read(fixture(&format!("models/{model}.onnx"))).unwrap()).unwrap();
    let train = load("train");
    m.features = train.names.clone();
    let opts = CompileOptions::with_output(mode);
    (CompiledModel::compile(&m, &train.x, opts).unwrap(), load("test"))
}

fn accuracy() -> Accuracy {
    Accuracy {
        metric: "accuracy".into(),
        float: 0.95,
        quantized: 0.95,
        fhe_agreement: Some(1.0),
        fhe_rows: 143,
        test_rows: 143,
    }
}

#[test]
fn card_seal_open_evaluate_decrypt() {
    let client = ClientKey::generate(Default::default()).unwrap();
    let operator = OperatorKey::generate();
    // (model, data, mode, rows evaluated)
    for (model, data, mode, rows) in [
        ("logreg_breast_cancer", "breast_cancer", OutputMode::Scores, 2),
        ("tree5_breast_cancer", "breast_cancer", OutputMode::LabelOnly, 2),
        ("tree5_breast_cancer", "breast_cancer", OutputMode::RoundedScores, 2),
        // ten classes: the argmax under FHE
        ("logreg_digits", "digits", OutputMode::LabelOnly, 1),
    ] {
        let (c, test) = compiled_as(model, data, mode);

        // seller: card + sealed model bound to it
        let card = ModelCard::new(
            &c,
            "Breast cancer screen",
            "Wisconsin diagnostic data",
            accuracy(),
            mode,
            &CostModel::default(),
        )
        .unwrap();
        let bytes = card.to_bytes();
        assert!(bytes.len() < MAX_CARD_BYTES, "{model}: card of {} bytes", bytes.len());
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains("weights") && !text.contains("program"),
            "{model}: the card leaks the model"
        );
        assert!(text.contains(mode.leakage()), "the card states what its output mode leaks");
        assert_eq!(card.result_privacy, c.public().result_privacy());
        assert!(c.public().sanitized(), "every listed result is sanitized");
        let parsed = ModelCard::from_bytes(&bytes).unwrap();
        assert_eq!(parsed, card);
        assert_eq!(parsed.hash(), card.hash(), "the hash is stable across a round trip");
        assert_eq!(card.cost.evaluation_key, c.needs_evaluation_key());
        let ctx =
            SealContext { chain_id: 31_337, market: [1; 20], seller: [2; 20], operator: [3; 20] };
        let sealed =
            seal(&c.to_json().unwrap(), &operator.public_bytes(), &card.hash(), &ctx).unwrap();

        // operator: open for this listing only (card and seller), then evaluate
        assert_eq!(operator.open(&sealed, &[0u8; 32], &ctx), Err(SealError::Open));
        let copier = SealContext { seller: [9; 20], ..ctx };
        assert_eq!(operator.open(&sealed, &card.hash(), &copier), Err(SealError::Open));
        let opened =
            CompiledModel::from_json(&operator.open(&sealed, &card.hash(), &ctx).unwrap()).unwrap();
        assert_eq!(opened, c);

        // buyer: only the card
        let input = client.encrypt_rows(&card.model, &test.x[..rows]).unwrap();
        let key = ServerKey::expand(&client.key_for(&card.model).unwrap()).unwrap();
        let (result, _) = Evaluator::new(&opened, Some(&key)).unwrap().evaluate(&input, 8).unwrap();
        let scores = client.decrypt(&card.model, &result).unwrap();
        for (i, s) in scores.iter().enumerate() {
            assert_eq!(*s, c.predict_clear(&test.x[i]).unwrap(), "{model} row {i}");
        }
        let labels = card.model.decode(scores).labels.unwrap();
        assert_eq!(labels.len(), rows, "{model}: a class per row");
    }
}

/// Every listing's results are sanitized: a network listed label-only offers exactly that, says
/// its result is washed, measures the label's accuracy and reads back; a label-only card cannot
/// claim scores; a tree ensemble's full scores are refused (they could not be sanitized), its
/// rounded scores are not; a mode a model cannot compute is refused in words.
#[test]
fn every_listing_is_sanitized_and_offers_what_its_program_computes() {
    let load = |model: &str| {
        let m = std::fs::read(fixture(&format!("models/{model}.onnx"))).unwrap();
        import_onnx(&m).unwrap()
    };
    let data = |split: &str| Dataset::load(fixture(&format!("data/breast_cancer_{split}.csv")));
    let (train, test) = (data("train").unwrap(), data("test").unwrap());
    let spec = |mode, fhe_rows| ListingSpec {
        output_mode: mode,
        fhe_rows,
        ..ListingSpec::new("Breast cancer screen", "")
    };
    let (c, card) = prepare_listing(
        load("mlp30_16_2_breast_cancer"),
        &train,
        &test,
        &spec(OutputMode::LabelOnly, 1),
    )
    .unwrap();
    assert!(c.encoding.label() && card.model.sanitized());
    assert_eq!(card.output_mode, OutputMode::LabelOnly);
    assert!(card.result_privacy.contains("Washed label"), "{}", card.result_privacy);
    assert_eq!(card.accuracy.fhe_agreement, Some(1.0));
    assert!(card.accuracy.quantized > 0.9, "{:?}", card.accuracy);
    assert_eq!(ModelCard::from_bytes(&card.to_bytes()).unwrap(), card);
    let mut v: serde_json::Value = serde_json::from_slice(&card.to_bytes()).unwrap();
    v["output_mode"] = "scores".into();
    v["leakage"] = OutputMode::Scores.leakage().into();
    let claimed = ModelCard::from_bytes(&serde_json::to_vec(&v).unwrap());
    assert!(matches!(claimed, Err(CardError::Invalid(_))), "{claimed:?}");
    // a tree's full scores: refused when listed (before anything is measured)
    let err =
        prepare_listing(load("tree5_breast_cancer"), &train, &test, &spec(OutputMode::Scores, 4))
            .unwrap_err();
    assert!(matches!(err, CardError::Unsanitized), "{err}");
    let (_, rounded) = prepare_listing(
        load("tree5_breast_cancer"),
        &train,
        &test,
        &spec(OutputMode::RoundedScores, 0),
    )
    .unwrap();
    assert!(rounded.result_privacy.contains("rounded"), "{}", rounded.result_privacy);
    // a multi-class model's label is an argmax under FHE; a regression model has no label
    let data = |name: &str, split: &str| {
        Dataset::load(fixture(&format!("data/{name}_{split}.csv"))).unwrap()
    };
    let (_, digits) = prepare_listing(
        load("logreg_digits"),
        &data("digits", "train"),
        &data("digits", "test"),
        &spec(OutputMode::LabelOnly, 0),
    )
    .unwrap();
    assert_eq!(digits.output_mode, OutputMode::LabelOnly);
    assert!(digits.accuracy.quantized >= 0.9, "{:?}", digits.accuracy);
    let err = prepare_listing(
        load("ridge_diabetes"),
        &data("diabetes", "train"),
        &data("diabetes", "test"),
        &spec(OutputMode::LabelOnly, 0),
    )
    .unwrap_err();
    assert!(matches!(err, CardError::Unsupported { mode: OutputMode::LabelOnly, .. }), "{err}");
    assert!(err.to_string().contains("regression"), "{err}");
}

#[test]
fn bad_cards_are_refused_with_reasons() {
    let (c, _) = compiled("logreg_breast_cancer", "breast_cancer");
    // a card offers what its program computes: a score program is no rounded or label listing
    for mode in [OutputMode::RoundedScores, OutputMode::LabelOnly] {
        let refused = ModelCard::new(&c, "ok", "", accuracy(), mode, &CostModel::default());
        assert!(matches!(refused, Err(CardError::Invalid(_))), "{refused:?}");
    }
    // a tree's full scores are not sanitized: no card for them, and none read
    let (tree, _) = compiled("tree5_breast_cancer", "breast_cancer");
    let refused =
        ModelCard::new(&tree, "ok", "", accuracy(), OutputMode::Scores, &CostModel::default());
    assert!(matches!(refused, Err(CardError::Unsanitized)), "{refused:?}");
    let (rounded, _) =
        compiled_as("tree5_breast_cancer", "breast_cancer", OutputMode::RoundedScores);
    let card = ModelCard::new(
        &rounded,
        "ok",
        "",
        accuracy(),
        OutputMode::RoundedScores,
        &CostModel::default(),
    )
    .unwrap();
    let mut v: serde_json::Value = serde_json::from_slice(&card.to_bytes()).unwrap();
    v["model"] = serde_json::to_value(tree.public()).unwrap();
    v["output_mode"] = "scores".into();
    v["leakage"] = OutputMode::Scores.leakage().into();
    v["result_privacy"] = tree.public().result_privacy().into();
    v["cost"]["bootstraps_per_row"] = tree.bootstraps_per_row().into();
    let read = ModelCard::from_bytes(&serde_json::to_vec(&v).unwrap());
    assert!(matches!(read, Err(CardError::Unsanitized)), "{read:?}");
    let card = ModelCard::new(&c, "ok", "", accuracy(), OutputMode::Scores, &CostModel::default())
        .unwrap();
    let mut v: serde_json::Value = serde_json::from_slice(&card.to_bytes()).unwrap();
    v["format"] = "something-else".into();
    assert!(matches!(
        ModelCard::from_bytes(&serde_json::to_vec(&v).unwrap()),
        Err(CardError::Format(_))
    ));
    let mut v: serde_json::Value = serde_json::from_slice(&card.to_bytes()).unwrap();
    v["name"] = "".into();
    assert!(matches!(
        ModelCard::from_bytes(&serde_json::to_vec(&v).unwrap()),
        Err(CardError::Invalid(_))
    ));
    let mut v: serde_json::Value = serde_json::from_slice(&card.to_bytes()).unwrap();
    v["cost"]["bootstraps_per_row"] = 7.into();
    assert!(matches!(
        ModelCard::from_bytes(&serde_json::to_vec(&v).unwrap()),
        Err(CardError::Invalid(_))
    ));
    // a card claiming a privacy its model does not have
    for field in ["result_privacy", "leakage"] {
        let mut v: serde_json::Value = serde_json::from_slice(&card.to_bytes()).unwrap();
        v[field] = "nothing leaks".into();
        assert!(matches!(
            ModelCard::from_bytes(&serde_json::to_vec(&v).unwrap()),
            Err(CardError::Invalid(_))
        ));
    }
    assert!(matches!(ModelCard::from_bytes(b"{\"name\":"), Err(CardError::Format(_))));
    assert!(matches!(
        ModelCard::from_bytes(&vec![b' '; MAX_CARD_BYTES + 1]),
        Err(CardError::TooLarge(_))
    ));
}
