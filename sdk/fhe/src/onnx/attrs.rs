//! Typed access to a node's attributes.

use super::proto::{AttributeProto, NodeProto};
use crate::{Error, Result};

pub(super) struct Attrs<'a> {
    node: &'a NodeProto,
}

impl<'a> Attrs<'a> {
    pub(super) fn new(node: &'a NodeProto) -> Self {
        Self { node }
    }

    fn get(&self, name: &str) -> Option<&'a AttributeProto> {
        self.node.attribute.iter().find(|a| a.name == name)
    }

    fn missing(&self, name: &str) -> Error {
        Error::InvalidModel(format!(
            "{} node {:?} lacks attribute {name}",
            self.node.op_type, self.node.name
        ))
    }

    pub(super) fn floats(&self, name: &str) -> Result<&'a [f32]> {
        self.get(name).map(|a| a.floats.as_slice()).ok_or_else(|| self.missing(name))
    }

    pub(super) fn floats_or_empty(&self, name: &str) -> &'a [f32] {
        self.get(name).map_or(&[], |a| a.floats.as_slice())
    }

    pub(super) fn ints(&self, name: &str) -> Result<&'a [i64]> {
        self.get(name).map(|a| a.ints.as_slice()).ok_or_else(|| self.missing(name))
    }

    pub(super) fn ints_or_empty(&self, name: &str) -> &'a [i64] {
        self.get(name).map_or(&[], |a| a.ints.as_slice())
    }

    pub(super) fn int(&self, name: &str, default: i64) -> i64 {
        self.get(name).map_or(default, |a| a.i)
    }

    pub(super) fn float(&self, name: &str, default: f32) -> f32 {
        self.get(name).map_or(default, |a| a.f)
    }

    pub(super) fn string(&self, name: &str) -> Option<String> {
        self.get(name).map(|a| String::from_utf8_lossy(&a.s).into_owned())
    }

    pub(super) fn strings(&self, name: &str) -> Vec<String> {
        self.get(name)
            .map(|a| a.strings.iter().map(|s| String::from_utf8_lossy(s).into_owned()).collect())
            .unwrap_or_default()
    }

    /// Class labels from `classlabels_ints`/`classlabels_int64s`/`classlabels_strings`.
    pub(super) fn labels(&self) -> Vec<String> {
        for key in ["classlabels_ints", "classlabels_int64s"] {
            let v = self.ints_or_empty(key);
            if !v.is_empty() {
                return v.iter().map(i64::to_string).collect();
            }
        }
        self.strings("classlabels_strings")
    }

    pub(super) fn post_transform(&self) -> Result<crate::model::PostTransform> {
        use crate::model::PostTransform;
        match self.string("post_transform").as_deref().unwrap_or("NONE") {
            "NONE" => Ok(PostTransform::None),
            "LOGISTIC" => Ok(PostTransform::Logistic),
            "SOFTMAX" => Ok(PostTransform::Softmax),
            other => Err(Error::Unsupported(format!("post_transform {other}"))),
        }
    }
}
