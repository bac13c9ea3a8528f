//! A minimal SQL text builder that numbers placeholders `$1, $2, …`, which both SQLite and
//! Postgres accept through `sqlx::Any` (sqlx's own `QueryBuilder<Any>` emits `?`, which Postgres
//! rejects).

use std::fmt::Write as _;

use sqlx::{Any, any::AnyArguments, query::Query};

/// A column value, in the few types both backends share through `sqlx::Any`. Nulls carry their
/// type so that Postgres accepts them in typed columns.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Val {
    /// A 64-bit integer.
    Int(i64),
    /// Text (addresses, hashes, decimal amounts, statuses).
    Text(String),
    /// An integer NULL.
    NullInt,
    /// A text NULL.
    NullText,
}

impl From<i64> for Val {
    fn from(v: i64) -> Self {
        Self::Int(v)
    }
}
impl From<String> for Val {
    fn from(v: String) -> Self {
        Self::Text(v)
    }
}
impl From<&str> for Val {
    fn from(v: &str) -> Self {
        Self::Text(v.to_owned())
    }
}
impl From<Option<i64>> for Val {
    fn from(v: Option<i64>) -> Self {
        v.map_or(Self::NullInt, Self::Int)
    }
}
impl From<Option<String>> for Val {
    fn from(v: Option<String>) -> Self {
        v.map_or(Self::NullText, Self::Text)
    }
}

/// SQL text plus its bound values.
#[derive(Clone, Debug, Default)]
pub struct Sql {
    text: String,
    args: Vec<Val>,
}

impl Sql {
    /// Start from a fragment of SQL.
    pub fn new(text: impl Into<String>) -> Self {
        Self { text: text.into(), args: Vec::new() }
    }

    /// Append SQL text.
    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Append a placeholder bound to `v`.
    pub fn bind(&mut self, v: impl Into<Val>) -> &mut Self {
        self.args.push(v.into());
        let _ = write!(self.text, "${}", self.args.len());
        self
    }

    /// Append comma-separated placeholders for `vals`.
    pub fn bind_list<V: Into<Val>>(&mut self, vals: impl IntoIterator<Item = V>) -> &mut Self {
        for (i, v) in vals.into_iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            self.bind(v);
        }
        self
    }

    /// The SQL text.
    #[cfg(test)]
    pub fn text(&self) -> &str {
        &self.text
    }

    /// A query ready to run.
    pub fn query(&self) -> Query<'_, Any, AnyArguments<'_>> {
        let mut q = sqlx::query(&self.text);
        for a in &self.args {
            q = match a {
                Val::Int(i) => q.bind(*i),
                Val::Text(s) => q.bind(s.as_str()),
                Val::NullInt => q.bind(None::<i64>),
                Val::NullText => q.bind(None::<String>),
            };
        }
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_order() {
        let mut q = Sql::new("SELECT * FROM t WHERE a = ");
        q.bind(1i64).push(" AND b IN (").bind_list(["x", "y"]).push(")");
        assert_eq!(q.text(), "SELECT * FROM t WHERE a = $1 AND b IN ($2, $3)");
        assert_eq!(q.args.len(), 3);
    }
}
