//! On-chain ids. The contract counts them in `uint256`; every database stores them in a signed
//! 64-bit integer, so an id is valid from 0 to 2^63 - 1 and each conversion is checked once,
//! here.

use alloy_primitives::U256;

use crate::{Error, Result};

macro_rules! id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(
            Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize,
            serde::Deserialize,
        )]
        #[serde(try_from = "u64", into = "u64")]
        pub struct $name(u64);

        impl $name {
            /// The largest id a database can hold (`i64::MAX`).
            pub const MAX: Self = Self(i64::MAX as u64);

            /// The id `n`, if it is in range.
            pub const fn new(n: u64) -> Result<Self> {
                if n <= i64::MAX as u64 {
                    Ok(Self(n))
                } else {
                    Err(Error::IdOutOfRange { what: $what, value: String::new() })
                }
            }

            /// As an unsigned integer (the SDK's and the CLI's view).
            pub const fn get(self) -> u64 {
                self.0
            }

            /// As a database integer (always in range).
            pub const fn to_i64(self) -> i64 {
                self.0 as i64
            }

            /// As the contract's `uint256`.
            pub fn to_u256(self) -> U256 {
                U256::from(self.0)
            }

            fn out_of_range(value: impl std::fmt::Display) -> Error {
                Error::IdOutOfRange { what: $what, value: value.to_string() }
            }
        }

        impl TryFrom<u64> for $name {
            type Error = Error;
            fn try_from(n: u64) -> Result<Self> {
                Self::new(n).map_err(|_| Self::out_of_range(n))
            }
        }

        impl TryFrom<i64> for $name {
            type Error = Error;
            fn try_from(n: i64) -> Result<Self> {
                u64::try_from(n).map(Self).map_err(|_| Self::out_of_range(n))
            }
        }

        impl TryFrom<U256> for $name {
            type Error = Error;
            fn try_from(n: U256) -> Result<Self> {
                u64::try_from(n)
                    .ok()
                    .and_then(|v| Self::new(v).ok())
                    .ok_or_else(|| Self::out_of_range(n))
            }
        }

        impl From<$name> for u64 {
            fn from(id: $name) -> u64 {
                id.0
            }
        }

        impl From<$name> for i64 {
            fn from(id: $name) -> i64 {
                id.to_i64()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                s.trim().parse::<u64>().map_err(|_| Self::out_of_range(s)).and_then(Self::try_from)
            }
        }
    };
}

id!(
    /// A job's id (`ModelMarket.nextJobId` counts them from 1).
    JobId,
    "job id"
);
id!(
    /// A listing's id (`ModelMarket.nextModelId` counts them from 1).
    ModelId,
    "model id"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_narrowing_conversion_refuses_out_of_range() {
        let top = i64::MAX as u64;
        assert_eq!(JobId::try_from(top).map(JobId::get), Ok(top));
        assert!(matches!(
            JobId::try_from(top + 1),
            Err(Error::IdOutOfRange { what: "job id", .. })
        ));
        assert!(ModelId::try_from(u64::MAX).is_err());
        assert!(JobId::try_from(-1_i64).is_err());
        assert_eq!(JobId::try_from(7_i64).map(i64::from), Ok(7));
        assert!(JobId::try_from(U256::from(top) + U256::from(1)).is_err());
        assert!(ModelId::try_from(U256::MAX).is_err());
        assert_eq!(ModelId::try_from(U256::from(42)).map(ModelId::to_u256), Ok(U256::from(42)));
        let err = JobId::try_from(U256::MAX).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.starts_with("job id 1157920892373161954"), "{err}");
        assert!("18446744073709551615".parse::<JobId>().is_err());
        assert!("abc".parse::<ModelId>().is_err());
        assert_eq!("12".parse::<ModelId>().map(ModelId::get), Ok(12));
    }

    #[test]
    fn serde_is_a_plain_number_and_checked() {
        assert_eq!(serde_json::to_string(&JobId::try_from(5_u64).ok()).ok(), Some("5".into()));
        assert!(serde_json::from_str::<JobId>("9223372036854775808").is_err());
        assert_eq!(serde_json::from_str::<JobId>("9").ok().map(JobId::get), Some(9));
    }

    proptest::proptest! {
        #[test]
        fn conversions_round_trip(n in 0..=i64::MAX) {
            let id = JobId::try_from(n).map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
            proptest::prop_assert_eq!(i64::from(id), n);
            proptest::prop_assert_eq!(JobId::try_from(id.to_u256()), Ok(id));
            proptest::prop_assert_eq!(id.to_string().parse::<JobId>(), Ok(id));
        }
    }
}
