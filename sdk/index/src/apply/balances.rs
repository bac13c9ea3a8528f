//! Balances: credits to sellers, operators, the treasury and refunded buyers, and withdrawals.

use modelmart_bindings::ModelMarketEvents as Ev;

use super::{Update, Working, add, sub};
use crate::{Result, db::table::Meta};

impl Working {
    /// Apply one balance event.
    pub(super) fn apply_balance(&mut self, ev: &Ev, meta: Meta) -> Result<Option<Update>> {
        match ev {
            Ev::Credited(e) => {
                let mut b = self.balance(e.account, e.token);
                b.balance = add(&b.balance, e.amount);
                b.credited_total = add(&b.credited_total, e.amount);
                self.balances.put(b, meta);
            }
            Ev::Withdrawn(e) => {
                let mut b = self.balance(e.account, e.token);
                b.balance = sub(&b.balance, e.amount);
                b.withdrawn_total = add(&b.withdrawn_total, e.amount);
                self.balances.put(b, meta);
            }
            _ => {}
        }
        Ok(None)
    }
}
