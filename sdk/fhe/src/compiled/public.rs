//! The public face of a compiled model: everything a buyer needs to encode, encrypt, decrypt and
//! decode, and nothing of the weights, thresholds or leaves. It goes in the model card; the
//! [`CompiledModel`] itself only ever travels sealed to the operator.

use serde::{Deserialize, Serialize};

use super::{CompiledModel, Encoding, class_of_result, dequantize};
use crate::model::{PostTransform, Task};
use crate::params::ParamSetId;
use crate::quant::InputSchema;

/// A decrypted result, decoded for people: what a buyer's wallet, CLI or page shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Decoded {
    /// Integer scores per row, exactly what the quantized model computes.
    pub raw: Vec<Vec<i64>>,
    /// Dequantized scores per row (empty for a label-only result).
    pub scores: Vec<Vec<f64>>,
    /// Class label per row (classification models), else `None`.
    pub labels: Option<Vec<String>>,
}

/// A compiled model's public interface.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PublicModel {
    /// Parameter set the model runs under (keys must match it).
    pub param_set: ParamSetId,
    /// Input schema (names, ranges, quantizers).
    pub schema: InputSchema,
    /// Classification labels or regression.
    pub task: Task,
    /// Post transform applied to dequantized scores.
    pub post_transform: PostTransform,
    /// Score dequantization: `score = scale * acc`.
    pub scale: f64,
    /// For single-score binary classification: class 1 when `score > threshold`.
    pub threshold: f64,
    /// Torus encodings of inputs and results.
    pub encoding: Encoding,
    /// Scores per row.
    pub outputs: usize,
    /// Offsets added to decrypted scores (results are centred to use the whole torus).
    pub output_center: Vec<i64>,
    /// Programmable bootstraps per row (the cost that matters).
    pub bootstraps_per_row: usize,
}

impl PublicModel {
    /// Whether jobs need the buyer's evaluation key (bootstrapping).
    pub fn needs_evaluation_key(&self) -> bool {
        self.bootstraps_per_row > 0
    }

    /// Whether results are sanitized, so a ciphertext reveals what it decrypts to and nothing
    /// else about the model: leveled scores re-randomized and flooded in the 128-bit domain,
    /// or washed labels and rounded scores.
    pub fn sanitized(&self) -> bool {
        self.encoding.wide() || self.encoding.washed_bits() > 0
    }

    /// What a result ciphertext reveals beyond its decrypted scores (shown on the model card).
    pub fn result_privacy(&self) -> &'static str {
        if self.encoding.label() {
            "Washed label: the class is computed under FHE and each bit of its index washed \
             (re-randomized under the buyer's public key, noise flooded, bootstrapped, five \
             times over), within statistical distance 2^-44 per bit of ciphertexts that depend \
             only on the class; it reveals the class and nothing else about the model."
        } else if self.encoding.rounded() {
            "Washed rounded scores: every score is rounded to 5 bits under FHE and each bit \
             washed (re-randomized under the buyer's public key, noise flooded, bootstrapped, \
             five times over), within statistical distance 2^-44 per bit of ciphertexts that \
             depend only on the rounded scores; it reveals them and nothing else about the model."
        } else if self.sanitized() {
            "Sanitized results: each result is re-randomized under the buyer's public key and \
             its noise flooded, within statistical distance 2^-40 of a ciphertext that depends \
             only on the scores; it reveals the scores and nothing else about the model."
        } else {
            "Results are not sanitized yet: a bootstrapped model's result is a sum of bootstrap \
             outputs under keys the buyer made, so a buyer who analyses the ciphertext itself \
             may learn more about the model than the scores."
        }
    }

    /// Dequantized scores.
    pub(crate) fn dequantize(&self, acc: &[i64]) -> Vec<f64> {
        dequantize(acc, self.scale)
    }

    /// Predicted class index from integer scores (a label-only result is the index itself).
    pub fn class_of(&self, acc: &[i64]) -> usize {
        class_of_result(&self.encoding, acc, self.scale, self.threshold)
    }

    /// Decode decrypted integer scores (one row per entry): dequantize them and, for
    /// classification models, name each row's class.
    pub fn decode(&self, raw: Vec<Vec<i64>>) -> Decoded {
        // a label-only result is the class index: there are no scores to show
        let scores = if self.encoding.label() {
            vec![Vec::new(); raw.len()]
        } else {
            raw.iter().map(|r| self.dequantize(r)).collect()
        };
        let labels = match &self.task {
            Task::Classification { labels } => Some(
                raw.iter()
                    .map(|r| labels.get(self.class_of(r)).cloned().unwrap_or_default())
                    .collect(),
            ),
            Task::Regression => None,
        };
        Decoded { raw, scores, labels }
    }
}

impl CompiledModel {
    /// The public interface (for the model card and the buyer's side).
    pub fn public(&self) -> PublicModel {
        PublicModel {
            param_set: self.param_set,
            schema: self.schema.clone(),
            task: self.task.clone(),
            post_transform: self.post_transform,
            scale: self.scale,
            threshold: self.threshold,
            encoding: self.encoding,
            outputs: self.n_outputs(),
            output_center: self.output_center(),
            bootstraps_per_row: self.bootstraps_per_row(),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::model::Task;

    #[test]
    fn decode_dequantizes_and_names_each_rows_class() {
        let (compiled, train) = crate::compiled::fixture_logreg();
        let public = compiled.public();
        let raw: Vec<Vec<i64>> =
            train.x[..20].iter().map(|x| compiled.predict_clear(x).unwrap()).collect();
        let decoded = public.decode(raw.clone());
        let Task::Classification { labels } = &public.task else { panic!("a classifier") };
        assert_eq!(decoded.raw, raw);
        for (i, r) in raw.iter().enumerate() {
            assert_eq!(decoded.scores[i], compiled.dequantize(r));
            assert_eq!(decoded.labels.as_ref().unwrap()[i], labels[compiled.class_of(r)]);
        }
        // both classes occur in these rows, so the labels are not a constant
        let names = decoded.labels.unwrap();
        assert!(names.iter().any(|n| *n != names[0]), "{names:?}");
        let mut regression = public;
        regression.task = Task::Regression;
        assert_eq!(regression.decode(raw).labels, None);
    }
}
