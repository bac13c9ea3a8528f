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
    card::{Accuracy, CardError, MAX_CARD_BYTES, ModelCard, OutputMode},
    seal::{OperatorKey, SealError, seal},
};

fn fixture(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fhe/fixtures").join(path)
}

fn compiled(model: &str, data: &str) -> (CompiledModel, Dataset) {
    let load = |split: &str| Dataset::load(fixture(&format!("data/{data}_{split}.csv"))).unwrap();
    let mut m =
        import_onnx(&std::fs::read(fixture(&format!("models/{model}.onnx"))).unwrap()).unwrap();
    let train = load("train");
    m.features = train.names.clone();
    (CompiledModel::compile(&m, &train.x, CompileOptions::default()).unwrap(), load("test"))
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
    for model in ["logreg_breast_cancer", "tree5_breast_cancer"] {
        let mode = OutputMode::Scores;
        let (c, test) = compiled(model, "breast_cancer");

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
        assert_eq!(
            c.public().sanitized(),
            model.starts_with("logreg"),
            "leveled results sanitized"
        );
        let parsed = ModelCard::from_bytes(&bytes).unwrap();
        assert_eq!(parsed, card);
        assert_eq!(parsed.hash(), card.hash(), "the hash is stable across a round trip");
        assert_eq!(card.cost.evaluation_key, c.needs_evaluation_key());
        let sealed = seal(&c.to_json().unwrap(), &operator.public_bytes(), &card.hash()).unwrap();

        // operator: open for this listing only, then evaluate
        assert_eq!(operator.open(&sealed, &[0u8; 32]), Err(SealError::Open));
        let opened =
            CompiledModel::from_json(&operator.open(&sealed, &card.hash()).unwrap()).unwrap();
        assert_eq!(opened, c);

        // buyer: only the card
        let input = client.encrypt_rows(&card.model, &test.x[..3]).unwrap();
        let key = ServerKey::expand(&client.key_for(&card.model).unwrap()).unwrap();
        let (result, _) = Evaluator::new(&opened, Some(&key)).unwrap().evaluate(&input, 8).unwrap();
        let scores = client.decrypt(&card.model, &result).unwrap();
        for (i, s) in scores.iter().enumerate() {
            assert_eq!(*s, c.predict_clear(&test.x[i]).unwrap(), "{model} row {i}");
        }
    }
}

/// A label-only listing: a binary network compiled to decide its class under FHE; the card
/// offers exactly that, says the result is washed, measures the label's accuracy, and reads
/// back; a label-only card cannot claim scores; a model that cannot compute its label is
/// refused for that mode in words.
#[test]
fn label_only_listings_are_binary_networks_with_washed_results() {
    let load = |model: &str| {
        let m = std::fs::read(fixture(&format!("models/{model}.onnx"))).unwrap();
        import_onnx(&m).unwrap()
    };
    let data = |split: &str| Dataset::load(fixture(&format!("data/breast_cancer_{split}.csv")));
    let (train, test) = (data("train").unwrap(), data("test").unwrap());
    let (c, card) = modelmart_sdk::card::prepare_listing_as(
        load("mlp30_16_2_breast_cancer"),
        &train,
        &test,
        "Breast cancer screen (label only)",
        "",
        1,
        OutputMode::LabelOnly,
    )
    .unwrap();
    assert!(c.encoding.label && card.model.sanitized());
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
    let refused = modelmart_sdk::card::prepare_listing_as(
        load("logreg_breast_cancer"),
        &train,
        &test,
        "no",
        "",
        0,
        OutputMode::LabelOnly,
    );
    let err = refused.unwrap_err();
    assert!(matches!(err, CardError::Unsupported(OutputMode::LabelOnly)), "{err}");
    assert!(err.to_string().contains("binary classification networks"), "{err}");
}

#[test]
fn bad_cards_are_refused_with_reasons() {
    let (c, _) = compiled("logreg_breast_cancer", "breast_cancer");
    let refused =
        ModelCard::new(&c, "ok", "", accuracy(), OutputMode::RoundedScores, &CostModel::default());
    assert!(
        matches!(refused, Err(CardError::Unsupported(OutputMode::RoundedScores))),
        "rounding is not computed under FHE"
    );
    // a card offers what its program computes: a score program is no label-only listing
    let refused =
        ModelCard::new(&c, "ok", "", accuracy(), OutputMode::LabelOnly, &CostModel::default());
    assert!(matches!(refused, Err(CardError::Invalid(_))), "{refused:?}");
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
