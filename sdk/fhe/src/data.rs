//! Datasets as CSV: a header of feature names plus a final target column.

use crate::{Error, Result};

/// A table of float features with one target per row.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// Feature names (the header without its last column).
    pub names: Vec<String>,
    /// Rows of features.
    pub x: Vec<Vec<f64>>,
    /// Targets (class index or regression value).
    pub y: Vec<f64>,
}

impl Dataset {
    /// Parse CSV text whose last column is the target.
    pub fn from_csv(text: &str) -> Result<Self> {
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let header = lines.next().ok_or_else(|| Error::BadData("empty CSV".into()))?;
        let mut names: Vec<String> = header.split(',').map(|s| s.trim().to_owned()).collect();
        if names.len() < 2 {
            return Err(Error::BadData("CSV needs at least one feature and a target".into()));
        }
        names.pop();
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for (i, line) in lines.enumerate() {
            let values = line
                .split(',')
                .map(|s| s.trim().parse::<f64>())
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| Error::BadData(format!("row {}: {e}", i + 1)))?;
            if values.len() != names.len() + 1 {
                return Err(Error::BadData(format!(
                    "row {} has {} columns, expected {}",
                    i + 1,
                    values.len(),
                    names.len() + 1
                )));
            }
            if values.iter().any(|v| !v.is_finite()) {
                return Err(Error::BadData(format!("row {}: non-finite value", i + 1)));
            }
            let (features, target) = values.split_at(names.len());
            x.push(features.to_vec());
            y.push(target[0]);
        }
        if x.is_empty() {
            return Err(Error::BadData("CSV has no rows".into()));
        }
        Ok(Self { names, x, y })
    }

    /// Read a CSV file.
    pub fn load(path: impl AsRef<std::path::Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::BadData(format!("{}: {e}", path.display())))?;
        Self::from_csv(&text)
    }
}
