//! Structural checks of a compiled program read from outside (a sealed listing): every index and
//! length the evaluators rely on, so a malformed program is refused when it is read, never
//! indexed out of bounds during a paid job.

use super::{CompiledModel, MAX_CLASSES, MAX_PATH, MLP_TABLE, QProgram, ROUNDED_BITS};
use crate::{Error, Result};

fn ensure(ok: bool, what: impl FnOnce() -> String) -> Result<()> {
    if ok { Ok(()) } else { Err(Error::MalformedModel(what())) }
}

/// `tables[h][k]` for `h < rows`, `k < cols`, each a full activation table.
fn tables(t: &[Vec<Vec<i64>>], rows: usize, cols: usize, name: &str) -> Result<()> {
    ensure(t.len() == rows, || format!("{name}: {} neuron tables, expected {rows}", t.len()))?;
    ensure(
        t.iter().all(|per| per.len() == cols && per.iter().all(|e| e.len() == MLP_TABLE)),
        || format!("{name}: every neuron needs {cols} tables of {MLP_TABLE} entries"),
    )
}

/// Check `model`'s program against its input schema.
pub(super) fn check(model: &CompiledModel) -> Result<()> {
    let features = model.schema.len();
    ensure(features > 0, || "no input features".into())?;
    let e = model.encoding;
    // only the leveled linear evaluator floods in the 128-bit domain: a tree's or network's
    // program read as leveled would be evaluated and released unsanitized
    ensure(!e.wide() || matches!(model.program, QProgram::Linear(_)), || {
        "a leveled 128-bit readout for a program that bootstraps".into()
    })?;
    // washed bits are read from values at 2^59 (rounded) or 2^62 (a label's bit)
    ensure(!e.rounded() || usize::from(e.output_delta_log) == 64 - ROUNDED_BITS, || {
        "rounded scores at a precision other than their bits'".into()
    })?;
    // a label's window values: one decision, or one score per class of an argmax
    let (values, classes) = (model.window_values(), usize::from(e.classes()));
    ensure(classes == 0 || e.label() && (3..=MAX_CLASSES).contains(&classes), || {
        format!("{classes} classes: an argmax label has 3 to {MAX_CLASSES}")
    })?;
    ensure(!e.label() || values == classes.max(1), || {
        format!("a label from {values} values, expected {}", classes.max(1))
    })?;
    match &model.program {
        QProgram::Linear(l) => {
            ensure(!l.weights.is_empty() && l.weights.len() == l.bias.len(), || {
                "linear: weight rows and biases differ in number".into()
            })?;
            ensure(l.weights.iter().all(|w| w.len() == features), || {
                format!("linear: every weight row needs {features} weights")
            })?;
            ensure(l.center.len() == if e.rounded() { l.weights.len() } else { 0 }, || {
                "linear: centres only for rounded scores, one per score".into()
            })
        }
        QProgram::Trees(t) => {
            let outputs = t.constant.len();
            ensure(outputs > 0 && t.center.len() == outputs, || "trees: outputs differ".into())?;
            ensure(t.comparisons.iter().all(|c| (c.feature as usize) < features), || {
                "trees: a comparison reads a feature that does not exist".into()
            })?;
            ensure(
                t.leaves.iter().all(|l| {
                    !l.path.is_empty()
                        && l.path.len() <= MAX_PATH
                        && l.values.len() == outputs
                        && l.path.iter().all(|(c, _)| (*c as usize) < t.comparisons.len())
                }),
                || "trees: a leaf's path or values do not fit the program".into(),
            )
        }
        QProgram::Mlp(m) => {
            let mut width = m.hidden.weights.len();
            ensure(width > 0 && m.hidden.bias.len() == width && m.offset.len() == width, || {
                "network: first layer sizes differ".into()
            })?;
            ensure(m.hidden.weights.iter().all(|w| w.len() == features), || {
                format!("network: every first-layer neuron needs {features} weights")
            })?;
            for (i, layer) in m.deeper.iter().enumerate() {
                let next = layer.bias.len();
                ensure(next > 0 && layer.offset.len() == next, || {
                    format!("network: hidden layer {} sizes differ", i + 2)
                })?;
                tables(&layer.tables, width, next, &format!("network: hidden layer {}", i + 2))?;
                width = next;
            }
            ensure(m.window.is_some() == (e.washed_bits() > 0), || {
                "network: washed-output program and encoding disagree".into()
            })?;
            if let Some(window) = &m.window {
                let n = window.bias.len();
                ensure(n > 0 && window.offset == vec![0; n] && m.center.len() == n, || {
                    "network: window layer sizes differ (or offsets are not 0)".into()
                })?;
                ensure(m.tables.is_empty() && m.constant.is_empty(), || {
                    "network: a washed-output program has no score tables".into()
                })?;
                return tables(&window.tables, width, n, "network: window layer");
            }
            let outputs = m.constant.len();
            ensure(outputs > 0 && m.center.len() == outputs, || "network: outputs differ".into())?;
            ensure((2..=62).contains(&m.out_bits), || "network: output bits out of range".into())?;
            tables(&m.tables, width, outputs, "network: output tables")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compiled::{QHidden, QLinear, QMlp};

    fn mlp() -> QMlp {
        QMlp {
            hidden: QLinear { weights: vec![vec![1; 30]; 2], bias: vec![0; 2], center: Vec::new() },
            offset: vec![1; 2],
            deeper: vec![QHidden {
                tables: vec![vec![vec![0; MLP_TABLE]; 3]; 2],
                bias: vec![0; 3],
                offset: vec![1; 3],
            }],
            tables: vec![vec![vec![0; MLP_TABLE]; 2]; 3],
            constant: vec![0; 2],
            center: vec![0; 2],
            out_bits: 8,
            window: None,
        }
    }

    #[test]
    fn malformed_programs_are_refused_when_read() {
        let (mut c, _) = crate::compiled::fixture_logreg();
        assert!(check(&c).is_ok());
        let QProgram::Linear(l) = &mut c.program else { panic!("linear") };
        l.weights[0].pop();
        let err = CompiledModel::from_json(&c.to_json().unwrap()).unwrap_err();
        assert!(matches!(&err, Error::MalformedModel(m) if m.contains("30 weights")), "{err}");

        c.program = QProgram::Mlp(mlp());
        let err = CompiledModel::from_json(&c.to_json().unwrap()).unwrap_err();
        assert!(matches!(&err, Error::MalformedModel(m) if m.contains("leveled")), "{err}");
        c.encoding.readout = crate::compiled::Readout::Scores;
        assert!(check(&c).is_ok());
        let broken: [fn(&mut QMlp); 5] = [
            |m| drop(m.deeper[0].tables[1].pop()),
            |m| m.deeper[0].offset.push(0),
            |m| m.tables[2][1].truncate(15),
            |m| drop(m.tables.pop()),
            |m| m.out_bits = 63,
        ];
        for (i, f) in broken.iter().enumerate() {
            let mut m = mlp();
            f(&mut m);
            c.program = QProgram::Mlp(m);
            let err = CompiledModel::from_json(&c.to_json().unwrap()).unwrap_err();
            assert!(matches!(err, Error::MalformedModel(_)), "case {i}: {err}");
        }
    }

    /// A label reads one decision value, or one score per class of an argmax (3 to 16).
    #[test]
    fn a_label_has_one_value_per_class() {
        let (c, train) = crate::compiled::fixture_logreg();
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures");
        let onnx = std::fs::read(format!("{dir}/models/logreg_breast_cancer.onnx")).unwrap();
        let mut model = crate::onnx::import_onnx(&onnx).unwrap();
        model.features = c.schema.features.iter().map(|f| f.name.clone()).collect();
        let opts = crate::CompileOptions::with_output(crate::OutputMode::LabelOnly);
        let mut label = CompiledModel::compile(&model, &train.x, opts).unwrap();
        assert!(check(&label).is_ok());
        // three class rows: an argmax of three, not a binary decision
        let QProgram::Linear(l) = &mut label.program else { panic!("linear") };
        l.weights = vec![l.weights[0].clone(); 3];
        l.bias = vec![0; 3];
        assert!(check(&label).is_err());
        for (classes, ok) in [(3, true), (2, false), (4, false), (17, false)] {
            label.encoding.readout = crate::compiled::Readout::Label { classes };
            assert_eq!(check(&label).is_ok(), ok, "{classes} classes");
        }
    }
}
