//! What a listing's results reveal, chosen by the seller per listing.

use crate::{Error, Result};

/// What a result reveals, chosen by the seller per listing (the listing's `outputMode`), and
/// what the engine computes for it. Every mode's results are sanitized, so a result reveals its
/// output and nothing else:
/// - [`OutputMode::Scores`]: every score; linear models only, whose scores are computed in the
///   128-bit domain and flooded (a tree ensemble's or network's scores cannot be sanitized at a
///   usable cost);
/// - [`OutputMode::RoundedScores`]: every model; each score rounded to 5 bits under FHE, each
///   bit washed;
/// - [`OutputMode::LabelOnly`]: classifiers of up to 16 classes; the class decided under FHE
///   (a sign or an argmax) and the bits of its index washed.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum OutputMode {
    /// Every score.
    #[default]
    Scores,
    /// Scores rounded to a coarse grid.
    RoundedScores,
    /// The predicted class only.
    LabelOnly,
}

impl OutputMode {
    /// Every mode, in on-chain code order.
    pub const ALL: [Self; 3] = [Self::Scores, Self::RoundedScores, Self::LabelOnly];

    /// The mode's name on cards, in URLs and messages (`scores`, `rounded_scores`, `label_only`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Scores => "scores",
            Self::RoundedScores => "rounded_scores",
            Self::LabelOnly => "label_only",
        }
    }

    /// The on-chain code (`Listing.outputMode`).
    pub const fn code(self) -> u8 {
        match self {
            Self::Scores => 0,
            Self::RoundedScores => 1,
            Self::LabelOnly => 2,
        }
    }

    /// The mode of on-chain code `code`.
    pub fn from_code(code: u8) -> Result<Self> {
        Self::ALL.into_iter().find(|m| m.code() == code).ok_or_else(|| Error::Unknown {
            what: "output mode code",
            value: code.to_string(),
            expected: "0, 1, 2",
        })
    }

    /// What a buyer can learn about the model over many queries in this mode (shown on the card).
    pub const fn leakage(self) -> &'static str {
        match self {
            Self::Scores => {
                "Full scores: a linear model is recoverable by plain model extraction from about \
                 (features + 1) well-chosen queries per output."
            }
            Self::RoundedScores => {
                "Rounded scores (32 levels over each score's range): extraction needs many more \
                 queries and recovers the model only up to the rounding."
            }
            Self::LabelOnly => {
                "Label only: each query reveals one label, as any prediction API does; extraction \
                 needs queries near every decision boundary."
            }
        }
    }
}

impl std::fmt::Display for OutputMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for OutputMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::ALL.into_iter().find(|m| m.name() == s).ok_or_else(|| Error::Unknown {
            what: "output mode",
            value: s.to_owned(),
            expected: "scores, rounded_scores, label_only",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_codes_and_serde_agree() {
        for m in OutputMode::ALL {
            assert_eq!(m.name().parse::<OutputMode>(), Ok(m));
            assert_eq!(OutputMode::from_code(m.code()), Ok(m));
            assert_eq!(serde_json::to_string(&m).ok(), Some(format!("\"{m}\"")));
        }
        assert!(OutputMode::from_code(3).is_err());
        assert!("label".parse::<OutputMode>().is_err());
    }
}
