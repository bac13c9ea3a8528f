use modelmart_fhe::compiled::ROUNDED_BITS;
use modelmart_fhe::cost::CostModel;
use modelmart_fhe::fhe::WASH_BOOTSTRAPS;
use modelmart_fhe::{
    CompileOptions, CompiledModel, Dataset, EncryptedInput, EncryptedResult, Error, Evaluator,
    OutputMode,
};

use crate::{compiled, compiled_with, key_for, keys, public};

/// Encrypt rows, evaluate through the wire formats, decrypt; must equal the clear model.
fn roundtrip(model: &str, data: &str, rows: std::ops::Range<usize>) {
    let (c, test) = compiled(model, data);
    roundtrip_with(model, &c, &test, rows);
}

/// [`roundtrip`] of a compiled model.
fn roundtrip_with(model: &str, c: &CompiledModel, test: &Dataset, rows: std::ops::Range<usize>) {
    let client = &keys().0;
    let sk = Some(key_for(c));
    let input = client.encrypt_rows(&c.public(), &test.x[rows.clone()]).unwrap();
    let input = EncryptedInput::from_bytes(&input.to_bytes().unwrap()).unwrap();
    let (result, stats) = Evaluator::new(c, sk).unwrap().evaluate(&input, 64).unwrap();
    assert_eq!(stats.bootstraps, rows.len() * c.bootstraps_per_row());
    let result = EncryptedResult::from_bytes(&result.to_bytes().unwrap()).unwrap();
    let scores = client.decrypt(&c.public(), &result).unwrap();
    for (i, s) in rows.zip(&scores) {
        assert_eq!(*s, c.predict_clear(&test.x[i]).unwrap(), "{model} row {i}");
    }
}

/// Test rows on which two compilations of a classifier predict the same class.
fn same_class(a: &CompiledModel, b: &CompiledModel, test: &Dataset) -> usize {
    let class = |c: &CompiledModel, x: &[f64]| c.class_of(&c.predict_clear(x).unwrap());
    test.x.iter().filter(|x| class(a, x) == class(b, x)).count()
}

#[test]
fn linear_models_agree_with_clear_on_whole_test_split() {
    // leveled only: cheap enough to check every test row in the default suite
    for (model, data) in [
        ("logreg_breast_cancer", "breast_cancer"),
        ("logreg_digits", "digits"),
        ("ridge_diabetes", "diabetes"),
        ("svm_breast_cancer", "breast_cancer"),
    ] {
        let rows = crate::dataset(data, "test").x.len();
        for start in (0..rows).step_by(64) {
            roundtrip(model, data, start..(start + 64).min(rows));
        }
    }
}

/// Tree models listed before 6-bit digit inputs (4-bit inputs, one value per feature, one sign
/// bootstrap per comparison) keep evaluating exactly: a 4-bit program over tree5's structure,
/// encrypted, evaluated and decrypted, equals its clear evaluation.
#[test]
fn a_tree_model_from_before_digit_inputs_still_agrees() {
    use modelmart_fhe::compiled::{Comparison, QProgram};
    use modelmart_fhe::quant::InputSchema;
    let (mut c, test) = compiled("tree5_breast_cancer", "breast_cancer");
    let train = crate::dataset("breast_cancer", "train");
    c.schema = InputSchema::calibrate_quantiles(&train.names, &train.x, 4).unwrap();
    c.encoding.low_bits = 0;
    c.encoding.input_delta_log = 59;
    let QProgram::Trees(t) = &mut c.program else { panic!("a tree model") };
    for cmp in &mut t.comparisons {
        *cmp = Comparison { feature: cmp.feature, threshold: cmp.threshold >> 2 };
    }
    let whole = t.comparisons.len() + t.leaf_outputs();
    assert_eq!(c.bootstraps_per_row(), whole);
    let client = &keys().0;
    let rows = &test.x[..4];
    let input = client.encrypt_rows(&c.public(), rows).unwrap();
    assert_eq!(input.features(), 30, "one value per feature");
    let (result, stats) =
        Evaluator::new(&c, Some(key_for(&c))).unwrap().evaluate(&input, 64).unwrap();
    assert_eq!(stats.bootstraps, 4 * c.bootstraps_per_row());
    let scores = client.decrypt(&c.public(), &result).unwrap();
    for (i, s) in scores.iter().enumerate() {
        assert_eq!(*s, c.predict_clear(&rows[i]).unwrap(), "row {i}");
    }
}

#[test]
fn tree_smoke_test() {
    roundtrip("tree5_breast_cancer", "breast_cancer", 0..3);
}

#[test]
fn mlp_smoke_test() {
    roundtrip("mlp30_16_2_breast_cancer", "breast_cancer", 0..2);
}

/// Label-only output: the class is decided under FHE and washed, for a binary classifier of
/// every family; the decrypted class equals the clear program's, and on the whole test split
/// that class is the score program's on almost every row.
#[test]
fn label_only_models_decrypt_to_the_clear_class() {
    let label_only = CompileOptions::with_output(OutputMode::LabelOnly);
    // (model, rows checked under FHE, bootstraps besides the decision's)
    for (model, rows, own) in [
        ("logreg_breast_cancer", 0..16, 0),
        ("svm_breast_cancer", 16..20, 0),
        // 16 neurons: 48 for the floors, 32 label-table lookups
        ("mlp30_16_2_breast_cancer", 0..2, 48 + 32),
        // more than 16 leaves: every leaf tested twice
        ("tree5_breast_cancer", 0..2, usize::MAX),
        // depth 3: each tree's reached leaf as an index, then two table reads
        ("xgb20d3_breast_cancer", 0..1, usize::MAX),
    ] {
        let (c, test) = compiled_with(model, "breast_cancer", label_only).unwrap();
        assert!(c.encoding.label() && c.public().sanitized() && !c.encoding.wide(), "{model}");
        assert_eq!(c.n_outputs(), 1);
        if own != usize::MAX {
            assert_eq!(c.bootstraps_per_row(), own + 3 + 1 + WASH_BOOTSTRAPS, "{model}");
        }
        let same = same_class(&c, &compiled(model, "breast_cancer").0, &test);
        assert!(same * 100 >= test.x.len() * 90, "{model}: {same} of {} rows agree", test.x.len());
        // a single row waits for its bootstraps in sequence: the cost model prices that path
        let cost = CostModel { cores: 64, ..CostModel::default() }.estimate(&c, 1);
        let path = c.bootstrap_depth() as f64 * CostModel::default().seconds_per_bootstrap;
        assert!(cost.expected_seconds >= path && c.bootstrap_depth() >= 7, "{model}: {cost:?}");
        roundtrip_with(&format!("label-only {model}"), &c, &test, rows);
        // a label is washed with the evaluation key's washing key, never with the public key
        assert!(matches!(Evaluator::new(&c, Some(public())), Err(Error::MissingEvaluationKey)));
    }
    // a regression model has no label-only output
    let err = compiled_with("ridge_diabetes", "diabetes", label_only).unwrap_err();
    assert!(matches!(err, Error::Unsupported(_)), "{err}");
}

/// Label-only output among ten classes: every pair of class scores is compared under FHE and
/// the winner's index (four bits) washed; it decrypts to the clear program's argmax, which is
/// the score program's class on almost every test row.
#[test]
fn a_multi_class_label_is_the_argmax() {
    let (c, test) = compiled_with(
        "logreg_digits",
        "digits",
        CompileOptions::with_output(OutputMode::LabelOnly),
    )
    .unwrap();
    assert_eq!((c.encoding.classes(), c.n_outputs(), c.encoding.washed_bits()), (10, 1, 4));
    // 45 pairs: floor (3) and sign; 10 wins; 4 index bits washed
    assert_eq!(c.bootstraps_per_row(), 45 * 4 + 10 + 4 * (1 + WASH_BOOTSTRAPS));
    let same = same_class(&c, &compiled("logreg_digits", "digits").0, &test);
    assert!(same * 100 >= test.x.len() * 90, "{same} of {} rows agree", test.x.len());
    roundtrip_with("label-only logreg_digits", &c, &test, 0..1);
    let decoded = c.public().decode(vec![vec![7]]);
    assert_eq!(decoded.labels, Some(vec!["7".to_string()]));
}

/// Rounded scores: every score rounded to 5 bits under FHE, each bit washed; the decrypted
/// rounded scores equal the clear program's, stay within a few units of the float scores, and
/// a multi-class model keeps its argmax on almost every row.
#[test]
fn rounded_scores_decrypt_to_the_clear_rounded_scores() {
    let rounded = CompileOptions::with_output(OutputMode::RoundedScores);
    for (model, data, rows) in [
        ("logreg_breast_cancer", "breast_cancer", 0..3),
        ("logreg_digits", "digits", 0..1),
        ("tree4_diabetes", "diabetes", 0..1),
        ("mlp30_16_2_breast_cancer", "breast_cancer", 0..1),
    ] {
        let (c, test) = compiled_with(model, data, rounded).unwrap();
        assert!(c.encoding.rounded() && c.public().sanitized() && !c.encoding.wide(), "{model}");
        let (scores, _) = compiled(model, data);
        let bits = c.n_outputs() * ROUNDED_BITS;
        assert!(c.bootstraps_per_row() > bits * (1 + WASH_BOOTSTRAPS), "{model}");
        if matches!(c.task, modelmart_fhe::model::Task::Classification { .. }) {
            let same = same_class(&c, &scores, &test);
            assert!(same * 100 >= test.x.len() * 85, "{model}: {same} of {} agree", test.x.len());
        }
        roundtrip_with(&format!("rounded {model}"), &c, &test, rows);
    }
}

/// Two hidden layers: the second layer's pre-activations are sums of bootstrap outputs.
#[test]
fn deeper_mlp_smoke_test() {
    roundtrip("mlp30_16_8_2_breast_cancer", "breast_cancer", 0..1);
}

#[test]
fn linear_input_is_small_and_needs_only_the_public_key() {
    let (c, test) = compiled("logreg_breast_cancer", "breast_cancer");
    assert!(!c.needs_evaluation_key());
    assert!(c.encoding.wide(), "leveled models run in the 128-bit domain, sanitized");
    let bytes = keys().0.encrypt_rows(&c.public(), &test.x[..1]).unwrap().to_bytes().unwrap();
    assert!(bytes.len() <= 4096, "input of {} bytes", bytes.len());
    let cost = CostModel::default().estimate(&c, 1);
    assert_eq!(cost.bootstraps_per_row, 0);
    assert!(!cost.needs_evaluation_key);
    // without the public key, or with only the bootstrap keys, results cannot be sanitized
    assert!(matches!(Evaluator::new(&c, None), Err(Error::MissingPublicKey)));
    assert!(matches!(Evaluator::new(&c, Some(&keys().1)), Err(Error::MissingPublicKey)));
    let pk = keys().0.public_key().unwrap().to_bytes().unwrap();
    assert!(pk.len() <= 80 << 10, "public key of {} bytes", pk.len());
}

#[test]
fn tree_model_requires_key_and_row_limit_holds() {
    let (c, test) = compiled("tree5_breast_cancer", "breast_cancer");
    assert!(matches!(Evaluator::new(&c, None), Err(Error::MissingEvaluationKey)));
    let input = keys().0.encrypt_rows(&c.public(), &test.x[..3]).unwrap();
    let err = Evaluator::new(&c, Some(&keys().1)).unwrap().evaluate(&input, 2).unwrap_err();
    assert!(matches!(err, Error::TooManyRows { rows: 3, max: 2 }));
}

#[test]
fn input_for_another_model_is_refused() {
    let (linear, test) = compiled("logreg_breast_cancer", "breast_cancer");
    let (digits, _) = compiled("logreg_digits", "digits");
    let input = keys().0.encrypt_rows(&linear.public(), &test.x[..1]).unwrap();
    let err = Evaluator::new(&digits, Some(public())).unwrap().evaluate(&input, 8).unwrap_err();
    assert!(matches!(err, Error::NonConformant { what: "encrypted input", .. }), "{err}");
}

#[test]
fn the_buyer_needs_only_the_public_model() {
    // The card carries `PublicModel` as JSON; the weights stay in the sealed compiled model.
    for (model, data) in
        [("logreg_breast_cancer", "breast_cancer"), ("tree5_breast_cancer", "breast_cancer")]
    {
        let (c, test) = compiled(model, data);
        let json = serde_json::to_string(&c.public()).unwrap();
        for secret in ["weights", "program", "comparisons", "leaves", "threshold_q"] {
            assert!(!json.contains(secret), "{model}: public model mentions `{secret}`");
        }
        let public: modelmart_fhe::PublicModel = serde_json::from_str(&json).unwrap();
        let client = &keys().0;
        let input = client.encrypt_rows(&public, &test.x[..2]).unwrap();
        let (result, _) =
            Evaluator::new(&c, Some(key_for(&c))).unwrap().evaluate(&input, 8).unwrap();
        let scores = client.decrypt(&public, &result).unwrap();
        for (i, s) in scores.iter().enumerate() {
            assert_eq!(*s, c.predict_clear(&test.x[i]).unwrap(), "{model} row {i}");
            assert_eq!(public.class_of(s), c.class_of(s));
        }
    }
}

#[test]
fn a_linear_model_from_before_sanitization_is_refused() {
    let (mut c, _) = compiled("logreg_breast_cancer", "breast_cancer");
    c.encoding.readout = modelmart_fhe::compiled::Readout::Scores;
    let json = c.to_json().unwrap();
    assert!(matches!(modelmart_fhe::CompiledModel::from_json(&json), Err(Error::Unsupported(_))));
    assert!(matches!(Evaluator::new(&c, Some(public())), Err(Error::Unsupported(_))));
}

/// A three-class variant of a binary fixture classifier: a third score per leaf (trees) or a
/// third output neuron (networks) made from the first two, so that it wins on some rows.
fn three_classes(name: &str) -> modelmart_fhe::model::Model {
    use modelmart_fhe::model::{Node, Program, Task};
    let mut m = crate::import(name);
    m.features = crate::dataset("breast_cancer", "train").names;
    match &mut m.program {
        Program::Trees(e) => {
            // one score `s` (class 1 when `s > t`) becomes the scores `(t, s, u)`
            assert_eq!(e.n_outputs, 1, "{name}: one score");
            let (threshold, per_tree) = (e.binary_threshold(), 1.0 / e.trees.len() as f64);
            for (t, tree) in e.trees.iter_mut().enumerate() {
                for (i, node) in tree.nodes.iter_mut().enumerate() {
                    if let Node::Leaf { values } = node {
                        // between 0.35 and 0.65 of a tree's share, by position
                        let u = 0.35 + 0.3 * (((t * 7 + i * 13) % 10) as f64 / 10.0);
                        *values = vec![0.0, values[0], u * per_tree];
                    }
                }
            }
            e.n_outputs = 3;
            e.base = vec![threshold, e.base[0], 0.0];
        }
        Program::Mlp(n) => {
            let out = n.layers.last_mut().unwrap();
            let mean = |a: &[f64], b: &[f64]| -> Vec<f64> {
                a.iter().zip(b).map(|(a, b)| (a + b) / 2.0).collect()
            };
            out.weights.push(mean(&out.weights[0], &out.weights[1]));
            out.bias.push((out.bias[0] + out.bias[1]) / 2.0 + 1.0);
        }
        Program::Linear(_) => panic!("{name}: a tree ensemble or a network"),
    }
    m.task = Task::Classification { labels: vec!["a".into(), "b".into(), "c".into()] };
    m
}

/// A three-class tree ensemble and network, label-only: the decrypted class is the clear
/// program's argmax, which is the float model's class on almost every test row, the third
/// class included.
#[test]
fn tree_and_network_labels_among_three_classes() {
    let train = crate::dataset("breast_cancer", "train");
    let test = crate::dataset("breast_cancer", "test");
    for name in ["rf10d4_breast_cancer", "mlp30_16_2_breast_cancer"] {
        let m = three_classes(name);
        let c = CompiledModel::compile(
            &m,
            &train.x,
            CompileOptions::with_output(OutputMode::LabelOnly),
        )
        .unwrap();
        assert_eq!((c.encoding.classes(), c.encoding.washed_bits()), (3, 2), "{name}");
        let float: Vec<usize> = test.x.iter().map(|x| m.class_of(&m.scores(x))).collect();
        let ours: Vec<usize> =
            test.x.iter().map(|x| c.class_of(&c.predict_clear(x).unwrap())).collect();
        let same = float.iter().zip(&ours).filter(|(a, b)| a == b).count();
        assert!(same * 100 >= test.x.len() * 90, "{name}: {same} of {} agree", test.x.len());
        assert!(float.contains(&2) && ours.contains(&2), "{name}: the third class never wins");
        let row = ours.iter().position(|k| *k == 2).unwrap();
        roundtrip_with(&format!("three-class {name}"), &c, &test, row..row + 1);
    }
}
