//! Operators: registration, terms, endpoint and key updates, stake, unbonding, exit, slashes.

use alloy::primitives::U256;
use modelmart_bindings::ModelMarketEvents as Ev;
use modelmart_primitives::OperatorStatus;

use super::{Update, Working, add, addr, dec, hex32, missing, time};
use crate::{Result, db::table::Meta, state::Operator};

impl Working {
    /// Apply one operator event.
    pub(super) fn apply_operator(&mut self, ev: &Ev, meta: Meta) -> Result<Option<Update>> {
        match ev {
            Ev::OperatorRegistered(e) => {
                let op = Operator {
                    address: addr(e.operator),
                    // already stored form: see `decode`
                    endpoint: e.endpoint.clone(),
                    x25519_key: hex32(e.x25519Key),
                    stake: dec(e.stake),
                    status: OperatorStatus::Active.to_string(),
                    unlock_at: None,
                    slashed_total: "0".into(),
                    registered_at: meta.block_time,
                    // the contract emits the open terms right after (OperatorTermsSet)
                    min_fee_per_row: "0".into(),
                    min_job_deadline: 0,
                    max_rows_per_job: 0,
                    max_rows_per_hour: 0,
                };
                self.operators.put(op, meta);
            }
            Ev::OperatorTermsSet(e) => {
                let Some(mut op) = self.operator(e.operator) else {
                    return missing("operator", &meta);
                };
                op.min_fee_per_row = dec(U256::from(e.terms.minFeePerRow));
                op.min_job_deadline = e.terms.minJobDeadline.into();
                op.max_rows_per_job = e.terms.maxRowsPerJob.into();
                op.max_rows_per_hour = e.terms.maxRowsPerHour.into();
                self.operators.put(op, meta);
            }
            Ev::OperatorUpdated(e) => {
                let Some(mut op) = self.operator(e.operator) else {
                    return missing("operator", &meta);
                };
                op.endpoint = e.endpoint.clone();
                op.x25519_key = hex32(e.x25519Key);
                self.operators.put(op, meta);
            }
            Ev::StakeAdded(e) => {
                let Some(mut op) = self.operator(e.operator) else {
                    return missing("operator", &meta);
                };
                op.stake = dec(e.stake);
                self.operators.put(op, meta);
            }
            Ev::UnbondingStarted(e) => {
                let Some(mut op) = self.operator(e.operator) else {
                    return missing("operator", &meta);
                };
                op.status = OperatorStatus::Unbonding.to_string();
                op.unlock_at = Some(time(e.unlockAt));
                self.operators.put(op, meta);
            }
            Ev::UnbondingCancelled(e) => {
                let Some(mut op) = self.operator(e.operator) else {
                    return missing("operator", &meta);
                };
                op.status = OperatorStatus::Active.to_string();
                op.unlock_at = None;
                self.operators.put(op, meta);
            }
            Ev::OperatorExited(e) => {
                let Some(mut op) = self.operator(e.operator) else {
                    return missing("operator", &meta);
                };
                op.status = OperatorStatus::Exited.to_string();
                op.unlock_at = None;
                op.stake = "0".into();
                self.operators.put(op, meta);
            }
            Ev::OperatorSlashed(e) => {
                let Some(mut op) = self.operator(e.operator) else {
                    return missing("operator", &meta);
                };
                op.stake = dec(e.stake);
                op.slashed_total = add(&op.slashed_total, e.amount);
                self.operators.put(op, meta);
            }
            _ => {}
        }
        Ok(None)
    }
}

/// A chain-supplied string as both backends can store it, losslessly: Postgres `TEXT` cannot
/// hold NUL, so NUL is written as a backslash and `0`, and a backslash is doubled (any operator
/// may register any 256 bytes as its endpoint; one NUL must not stop the index).
pub(crate) fn stored_text(s: &str) -> String {
    stored_bytes(s.as_bytes())
}

/// Chain-supplied bytes as text both backends store, losslessly and reversibly: valid UTF-8 as
/// it is (NUL as `\0`, a backslash doubled), each byte that is not UTF-8 as `\xNN`. A Solidity
/// `string` may hold any bytes, and decoding it lossily would show two endpoints as one.
pub(crate) fn stored_bytes(raw: &[u8]) -> String {
    let mut out = String::with_capacity(raw.len());
    for chunk in raw.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\0' => out.push_str("\\0"),
                '\\' => out.push_str("\\\\"),
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{stored_bytes, stored_text};

    #[test]
    fn nul_and_backslash_are_escaped_reversibly() {
        assert_eq!(stored_text("https://op.example"), "https://op.example");
        assert_eq!(stored_text("a\0b"), "a\\0b");
        assert_eq!(stored_text("a\\0b"), "a\\\\0b", "a literal backslash-zero stays distinct");
        assert_ne!(stored_text("a\0"), stored_text("a\\0"));
    }

    #[test]
    fn bytes_that_are_not_utf8_are_kept_apart() {
        assert_eq!(stored_bytes(b"op\xff\xfe.example"), "op\\xff\\xfe.example");
        // the lossy decoding would show both as "op\u{fffd}"
        assert_ne!(stored_bytes(b"op\xff"), stored_bytes(b"op\xfe"));
        // a literal backslash-x stays distinct from an invalid byte
        assert_ne!(stored_bytes(b"op\\xff"), stored_bytes(b"op\xff"));
        assert_eq!(stored_bytes("h\u{e9}".as_bytes()), "h\u{e9}");
    }
}
