//! The contract's lifecycles (`IModelMarket.OperatorStatus`, `ModelStatus`, `JobStatus`), by
//! on-chain code and by the name the indexer, the API and every client use.

use crate::{Error, Result};

macro_rules! status {
    ($(#[$doc:meta])* $name:ident, $what:literal, [$($(#[$vdoc:meta])* $variant:ident = $code:literal, $text:literal;)+]) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        #[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
        }

        impl $name {
            /// Every status, in on-chain code order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The on-chain code (the contract enum's index).
            pub const fn code(self) -> u8 {
                match self {
                    $(Self::$variant => $code,)+
                }
            }

            /// The name (`snake_case`), as stored by the indexer and shown by the API.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }

            /// The status of on-chain code `code`.
            pub fn from_code(code: u8) -> Result<Self> {
                Self::ALL.iter().copied().find(|s| s.code() == code).ok_or_else(|| Error::Unknown {
                    what: $what,
                    value: code.to_string(),
                    expected: concat!($($text, " "),+),
                })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s).ok_or_else(|| Error::Unknown {
                    what: $what,
                    value: s.to_owned(),
                    expected: concat!($($text, " "),+),
                })
            }
        }
    };
}

status!(
    /// Lifecycle of an operator. `Exited` is the indexer's name for an operator whose unbonding
    /// completed (the contract resets it to `None`).
    OperatorStatus, "operator status", [
        /// Not registered (or exited, on chain).
        None = 0, "none";
        /// Registered and staked: can accept listings and jobs.
        Active = 1, "active";
        /// Leaving: its stake unlocks after the unbonding delay.
        Unbonding = 2, "unbonding";
        /// Unbonding completed (the indexer's state; `None` on chain).
        Exited = 3, "exited";
    ]
);

status!(
    /// Lifecycle of a model listing.
    ModelStatus, "model status", [
        /// No such listing.
        None = 0, "none";
        /// Listed, waiting for its operator to accept it.
        Proposed = 1, "proposed";
        /// Accepted: buyers can request jobs.
        Active = 2, "active";
        /// Paused by its seller: no new jobs.
        Paused = 3, "paused";
        /// Withdrawn by its seller (pending jobs still settle).
        Delisted = 4, "delisted";
        /// Declined by its operator, with a reason code.
        Declined = 5, "declined";
    ]
);

status!(
    /// Lifecycle of a job. `Requested` is the only non-final state.
    JobStatus, "job status", [
        /// No such job.
        None = 0, "none";
        /// Paid and waiting for its operator.
        Requested = 1, "requested";
        /// A result was posted; the escrow paid seller and operator.
        Completed = 2, "completed";
        /// The operator rejected it with a reason code; the buyer was refunded.
        Rejected = 3, "rejected";
        /// Its deadline passed unanswered; the buyer was refunded.
        Expired = 4, "expired";
    ]
);

impl JobStatus {
    /// Whether the job has ended (every status but `None` and `Requested`).
    pub const fn is_final(self) -> bool {
        matches!(self, Self::Completed | Self::Rejected | Self::Expired)
    }
}

/// How a list of listings is ordered (the indexer API's `sort`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub enum ModelSort {
    /// Newest listing first (default).
    #[default]
    Newest,
    /// Oldest listing first.
    Oldest,
    /// Most jobs first.
    Jobs,
    /// Highest success rate first.
    SuccessRate,
    /// Cheapest per row (seller price + operator fee) first.
    Price,
}

impl ModelSort {
    /// The name, as the API takes it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Newest => "newest",
            Self::Oldest => "oldest",
            Self::Jobs => "jobs",
            Self::SuccessRate => "success_rate",
            Self::Price => "price",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_round_trip() {
        for s in JobStatus::ALL {
            assert_eq!(JobStatus::from_code(s.code()), Ok(*s));
            assert_eq!(s.as_str().parse::<JobStatus>(), Ok(*s));
        }
        for s in ModelStatus::ALL {
            assert_eq!(ModelStatus::from_code(s.code()), Ok(*s));
            assert_eq!(s.to_string().parse::<ModelStatus>(), Ok(*s));
        }
        assert_eq!(OperatorStatus::from_code(2), Ok(OperatorStatus::Unbonding));
        assert!(JobStatus::from_code(5).is_err());
        assert!(ModelStatus::from_code(6).is_err());
        let err = "done".parse::<JobStatus>().err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("requested completed"), "{err}");
        assert!(JobStatus::Expired.is_final() && !JobStatus::Requested.is_final());
        for sort in [ModelSort::SuccessRate, ModelSort::Newest] {
            let json = serde_json::to_value(sort).unwrap_or_default();
            assert_eq!(json, sort.as_str(), "one spelling");
        }
    }
}
