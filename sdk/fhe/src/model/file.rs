//! The project's own model file: a documented, versioned JSON document.
//!
//! ```json
//! { "format": "modelmart-model", "version": 1,
//!   "model": { "features": ["a", "b"], "task": { "kind": "regression" },
//!              "program": { "family": "linear", "weights": [[0.5, -1.0]], "bias": [0.1],
//!                           "post_transform": "none" } } }
//! ```
//! Tree programs are `{"family": "trees", "trees": [{"nodes": [...]}], "n_outputs": 1,
//! "base": [0.0], "post_transform": "none"}` with nodes `{"type": "split", "feature": 0,
//! "threshold": 1.5, "left": 1, "right": 2}` or `{"type": "leaf", "values": [3.0]}`; MLPs are
//! `{"family": "mlp", "layers": [<linear>, ...]}`.

use serde::{Deserialize, Serialize};

use super::Model;
use crate::{Error, Result};

/// Value of the `format` field.
pub const MODEL_FILE_FORMAT: &str = "modelmart-model";
/// Current version of the file format.
pub const MODEL_FILE_VERSION: u32 = 1;

/// A model file as stored on disk.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelFile {
    /// Always [`MODEL_FILE_FORMAT`].
    pub format: String,
    /// Format version; this build reads version 1.
    pub version: u32,
    /// The model.
    pub model: Model,
}

impl ModelFile {
    /// Wrap a model in the current format.
    pub fn new(model: Model) -> Self {
        Self { format: MODEL_FILE_FORMAT.into(), version: MODEL_FILE_VERSION, model }
    }

    /// Parse and validate a model file.
    pub fn from_json(bytes: &[u8]) -> Result<Model> {
        let file: ModelFile =
            serde_json::from_slice(bytes).map_err(|e| Error::MalformedModel(e.to_string()))?;
        if file.format != MODEL_FILE_FORMAT {
            return Err(Error::MalformedModel(format!("format is {:?}", file.format)));
        }
        if file.version != MODEL_FILE_VERSION {
            return Err(Error::Unsupported(format!("model file version {}", file.version)));
        }
        file.model.validate()?;
        Ok(file.model)
    }

    /// Serialize to pretty JSON.
    pub fn to_json(&self) -> Result<Vec<u8>> {
        serde_json::to_vec_pretty(self).map_err(|e| Error::Serialization(e.to_string()))
    }
}
