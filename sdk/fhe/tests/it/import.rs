use modelmart_fhe::model::{ModelFile, Program};
use modelmart_fhe::onnx::import_onnx;
use modelmart_fhe::{Dataset, Error};

use crate::{dataset, fixture};

const MODELS: &[(&str, &str)] = &[
    ("logreg_breast_cancer", "breast_cancer"),
    ("svm_breast_cancer", "breast_cancer"),
    ("tree5_breast_cancer", "breast_cancer"),
    ("rf10d4_breast_cancer", "breast_cancer"),
    ("xgb20d3_breast_cancer", "breast_cancer"),
    ("mlp30_16_2_breast_cancer", "breast_cancer"),
    ("mlp30_16_8_2_breast_cancer", "breast_cancer"),
    ("logreg_digits", "digits"),
    ("ridge_diabetes", "diabetes"),
    ("tree4_diabetes", "diabetes"),
    ("gbr20d3_diabetes", "diabetes"),
];

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// onnxruntime's probabilities/values from the raw scores our importer computes.
fn as_runtime_outputs(model: &modelmart_fhe::model::Model, scores: &[f64]) -> Vec<f64> {
    use modelmart_fhe::model::PostTransform::*;
    let post = match &model.program {
        Program::Linear(l) => l.post_transform,
        Program::Trees(t) => t.post_transform,
        Program::Mlp(m) => m.layers.last().unwrap().post_transform,
    };
    let classes = match &model.task {
        modelmart_fhe::model::Task::Classification { labels } => labels.len(),
        _ => 1,
    };
    match (post, scores.len(), classes) {
        (Logistic, 1, 2) => vec![1.0 - sigmoid(scores[0]), sigmoid(scores[0])],
        (None, 1, 2) if matches!(model.program, Program::Trees(_)) => {
            vec![1.0 - scores[0], scores[0]]
        }
        (Softmax, _, _) => {
            let m = scores.iter().cloned().fold(f64::MIN, f64::max);
            let e: Vec<f64> = scores.iter().map(|s| (s - m).exp()).collect();
            let z: f64 = e.iter().sum();
            e.iter().map(|v| v / z).collect()
        }
        _ => scores.to_vec(),
    }
}

#[test]
fn every_fixture_matches_onnxruntime() {
    for (name, data) in MODELS {
        let model = import_onnx(&std::fs::read(fixture(&format!("models/{name}.onnx"))).unwrap())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let test: Dataset = dataset(data, "test");
        let expected =
            std::fs::read_to_string(fixture(&format!("models/{name}.expected.csv"))).unwrap();
        let mut lines = expected.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        let has_label = header[0] == "label";
        for (i, line) in lines.enumerate() {
            let cols: Vec<f64> = line.split(',').map(|v| v.parse().unwrap()).collect();
            let want = if has_label { &cols[1..] } else { &cols[..] };
            // onnxruntime was fed float32 features
            let x: Vec<f64> = test.x[i].iter().map(|v| f64::from(*v as f32)).collect();
            let scores = model.scores(&x);
            let got = as_runtime_outputs(&model, &scores);
            assert_eq!(got.len(), want.len(), "{name} row {i}: {got:?} vs {want:?}");
            for (g, w) in got.iter().zip(want) {
                assert!(
                    (g - w).abs() <= 1e-4 * (1.0 + w.abs()),
                    "{name} row {i}: {got:?} vs {want:?}"
                );
            }
            if has_label {
                assert_eq!(model.class_of(&scores) as f64, cols[0], "{name} row {i} label");
            }
        }
    }
}

#[test]
fn own_model_file_round_trips() {
    let model =
        import_onnx(&std::fs::read(fixture("models/rf10d4_breast_cancer.onnx")).unwrap()).unwrap();
    let json = ModelFile::new(model.clone()).to_json().unwrap();
    assert_eq!(ModelFile::from_json(&json).unwrap(), model);
    let bad = String::from_utf8(json).unwrap().replace("\"version\": 1", "\"version\": 9");
    assert!(matches!(ModelFile::from_json(bad.as_bytes()), Err(Error::Unsupported(_))));
    assert!(matches!(ModelFile::from_json(b"{"), Err(Error::MalformedModel(_))));
}

#[test]
fn own_model_file_rejects_broken_trees() {
    let json = br#"{"format":"modelmart-model","version":1,"model":{"features":["a"],
      "task":{"kind":"regression"},"program":{"family":"trees","n_outputs":1,"base":[0.0],
      "post_transform":"none","trees":[{"nodes":[{"type":"split","feature":0,"threshold":1.0,
      "left":0,"right":1},{"type":"leaf","values":[1.0]}]}]}}}"#;
    let err = ModelFile::from_json(json).unwrap_err();
    assert!(matches!(err, Error::InvalidModel(ref m) if m.contains("reached twice")), "{err}");
}

#[test]
fn malformed_and_unsupported_onnx_are_clear_errors() {
    assert!(matches!(
        import_onnx(b"definitely not protobuf \xff\xff"),
        Err(Error::MalformedModel(_))
    ));
    // replace the op type of a real model's node with an unknown one of the same length
    let mut bytes = std::fs::read(fixture("models/ridge_diabetes.onnx")).unwrap();
    while let Some(pos) = bytes.windows(15).position(|w| w == b"LinearRegressor") {
        bytes[pos..pos + 15].copy_from_slice(b"FancyTransform1");
    }
    match import_onnx(&bytes) {
        Err(Error::Unsupported(m)) => assert!(m.contains("FancyTransform1"), "{m}"),
        other => panic!("expected Unsupported, got {other:?}"),
    }
}
