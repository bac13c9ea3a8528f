//! Admission: how much evaluation work this process has taken on, and how fast it really runs.
//!
//! A job is admitted only if the work already admitted ahead of it, plus its own expected time
//! and the posting margin, ends before its deadline; otherwise it is rejected at once (the buyer
//! is refunded) instead of expiring in the queue. Expected times come from the cost model scaled
//! by what evaluations on this machine actually took.

use std::sync::{
    Arc, Mutex, PoisonError,
    atomic::{AtomicI64, Ordering},
};

/// Smallest estimate (seconds) whose measurement updates the speed factor: shorter runs are
/// dominated by fixed costs and would only add noise.
const MIN_SAMPLE_S: f64 = 0.05;
/// Weight of a new measurement in the speed factor's moving average.
const ALPHA: f64 = 0.3;
/// The speed factor stays within these bounds whatever one run measured.
const FACTOR_RANGE: (f64, f64) = (0.25, 8.0);

/// Work admitted and the measured speed of this process's evaluations.
#[derive(Debug)]
pub(crate) struct Admission {
    /// Admitted work, microseconds.
    admitted_us: Arc<AtomicI64>,
    slots: i64,
    /// Measured / estimated evaluation time (1.0 until something was measured).
    factor: Mutex<f64>,
}

/// Work counted as admitted until dropped (when the job's evaluation is over or abandoned).
#[derive(Debug)]
pub(crate) struct Ticket {
    admitted_us: Arc<AtomicI64>,
    us: i64,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.admitted_us.fetch_sub(self.us, Ordering::SeqCst);
    }
}

/// Seconds as whole microseconds (negative and non-finite: none; capped far above any job).
fn micros(secs: f64) -> i64 {
    if secs.is_finite() && secs > 0.0 {
        // at most ~31 years: the cast cannot overflow
        #[allow(clippy::cast_possible_truncation)]
        let us = (secs.min(1e9) * 1e6).ceil() as i64;
        us
    } else {
        0
    }
}

impl Admission {
    /// No work admitted yet, for `slots` parallel evaluations.
    pub(crate) fn new(slots: usize) -> Self {
        Self {
            admitted_us: Arc::new(AtomicI64::new(0)),
            slots: i64::try_from(slots.max(1)).unwrap_or(1),
            factor: Mutex::new(1.0),
        }
    }

    /// Seconds until an evaluation slot frees up for a newly admitted job: the admitted work
    /// spread over the slots.
    pub(crate) fn backlog_seconds(&self) -> f64 {
        let work = self.admitted_us.load(Ordering::SeqCst).max(0);
        // microsecond counts far below 2^52: exact in f64
        #[allow(clippy::cast_precision_loss)]
        let s = work as f64 / 1e6 / self.slots as f64;
        s
    }

    /// Count `secs` of work as admitted while the ticket lives.
    pub(crate) fn admit(&self, secs: f64) -> Ticket {
        let us = micros(secs);
        self.admitted_us.fetch_add(us, Ordering::SeqCst);
        Ticket { admitted_us: self.admitted_us.clone(), us }
    }

    /// The cost model's estimate scaled by measured speed, seconds.
    pub(crate) fn expected_seconds(&self, estimate_s: f64) -> f64 {
        let f = *self.factor.lock().unwrap_or_else(PoisonError::into_inner);
        (estimate_s * f).max(0.0)
    }

    /// Learn from one evaluation that the cost model estimated at `estimate_s` and took
    /// `measured_s`.
    pub(crate) fn observe(&self, estimate_s: f64, measured_s: f64) {
        if estimate_s < MIN_SAMPLE_S || !measured_s.is_finite() || measured_s <= 0.0 {
            return;
        }
        let ratio = (measured_s / estimate_s).clamp(FACTOR_RANGE.0, FACTOR_RANGE.1);
        let mut f = self.factor.lock().unwrap_or_else(PoisonError::into_inner);
        *f = (*f * (1.0 - ALPHA) + ratio * ALPHA).clamp(FACTOR_RANGE.0, FACTOR_RANGE.1);
        metrics::gauge!("modelmart_coprocessor_speed_factor").set(*f);
    }

    /// Measured / estimated evaluation time.
    pub(crate) fn speed_factor(&self) -> f64 {
        *self.factor.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tickets_count_work_until_dropped() {
        let a = Admission::new(2);
        assert_eq!(a.backlog_seconds(), 0.0);
        let t1 = a.admit(10.0);
        let t2 = a.admit(5.0);
        assert_eq!(a.backlog_seconds(), 7.5, "15 s over 2 slots");
        drop(t1);
        assert_eq!(a.backlog_seconds(), 2.5);
        drop(t2);
        assert_eq!(a.backlog_seconds(), 0.0);
        let _neg = a.admit(-4.0);
        let _nan = a.admit(f64::NAN);
        assert_eq!(a.backlog_seconds(), 0.0, "negative or undefined work counts as none");
        let _tiny = a.admit(0.000_000_4);
        assert_eq!(a.backlog_seconds(), 0.000_001 / 2.0, "a 0.4 us job counts 1 us");
    }

    #[test]
    fn speed_factor_follows_measurements_within_bounds() {
        let a = Admission::new(1);
        assert_eq!(a.expected_seconds(2.0), 2.0);
        for _ in 0..20 {
            a.observe(1.0, 2.0);
        }
        assert!((a.speed_factor() - 2.0).abs() < 0.01, "{}", a.speed_factor());
        assert!((a.expected_seconds(2.0) - 4.0).abs() < 0.02);
        a.observe(0.01, 100.0);
        assert!((a.speed_factor() - 2.0).abs() < 0.01, "tiny runs are ignored");
        for _ in 0..50 {
            a.observe(1.0, 1_000.0);
        }
        assert!(a.speed_factor() <= FACTOR_RANGE.1);
        a.observe(1.0, f64::NAN);
        assert!(a.speed_factor().is_finite());
    }
}
