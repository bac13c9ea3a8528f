//! One fake environment, one test per branch of [`decide`].

use std::{
    collections::HashMap,
    sync::{Mutex, PoisonError},
};

use super::*;
use crate::queue::NewJob;

const OPERATOR: &str = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8";
const INPUT: &str = "11";
const KEY: &str = "22";
const NOW: i64 = 1_000;

/// What a fake evaluation returns.
type Eval = fn() -> std::result::Result<Vec<u8>, EvalFailure>;

/// The world as a test sets it up.
struct Fake {
    chain: ChainJob,
    /// The request's input and key hashes as emitted on chain.
    request: Option<(String, String)>,
    listing: Option<Listing>,
    blobs: HashMap<String, Result<Option<Bytes>, ()>>,
    refusal: Option<u16>,
    expected_s: f64,
    /// Seconds of admitted work ahead of the job.
    backlog_s: f64,
    /// Chain time when the evaluation slot comes.
    slot_at: i64,
    /// Work admitted and not yet released, whole seconds.
    admitted: std::sync::Arc<std::sync::atomic::AtomicI64>,
    bad_key: bool,
    eval: Eval,
    stored: Mutex<Vec<Vec<u8>>>,
}

fn listing() -> Listing {
    Listing {
        model_id: 4,
        seller: "0xseller".into(),
        operator: OPERATOR.to_uppercase().replace("0X", "0x"),
        token: "0x0000000000000000000000000000000000000000".into(),
        price_per_row: "1".into(),
        operator_fee_per_row: "1".into(),
        card_hash: "0xcard".into(),
        sealed_model_hash: "0xsealed".into(),
        param_set: 1,
        max_rows: 8,
        job_deadline: 600,
        output_mode: 0,
        status: "active".into(),
        decline_reason: None,
        listed_at: 0,
    }
}

impl Fake {
    fn new() -> Self {
        let blobs = [(INPUT, Ok(Some(Bytes::from_static(b"in")))), (KEY, Ok(Some(Bytes::new())))];
        Self {
            chain: ChainJob { status: JobStatus::Requested, model_id: 4, rows: 2, deadline: 1_600 },
            request: Some((INPUT.into(), KEY.into())),
            listing: Some(listing()),
            blobs: blobs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            refusal: None,
            expected_s: 3.0,
            backlog_s: 0.0,
            slot_at: NOW,
            admitted: std::sync::Arc::default(),
            bad_key: false,
            eval: || Ok(b"result".to_vec()),
            stored: Mutex::new(Vec::new()),
        }
    }
}

fn claimed() -> Claimed {
    Claimed {
        job: NewJob {
            job_id: 9,
            model_id: 4,
            input_hash: INPUT.into(),
            key_hash: KEY.into(),
            rows: 2,
            deadline: 1_600,
            request_block: 10,
            request_tx: format!("0x{:064x}", 1),
        },
        attempts: 1,
        failures: 0,
        result_hash: None,
    }
}

impl JobEnv for Fake {
    type Model = ();
    type Key = ();
    type Ticket = Released;
    fn now(&self) -> i64 {
        NOW
    }
    fn post_margin_s(&self) -> i64 {
        15
    }
    fn operator(&self) -> String {
        OPERATOR.into()
    }
    async fn chain_job(&self, _: JobId) -> Result<ChainJob> {
        Ok(self.chain)
    }
    async fn chain_request(&self, _: JobId) -> Result<Option<(String, String)>> {
        Ok(self.request.clone())
    }
    async fn listing(&self, _: ModelId) -> Result<Option<Listing>> {
        Ok(self.listing.clone())
    }
    async fn has_blob(&self, hash: &str) -> Result<bool> {
        Ok(matches!(self.blobs.get(hash), Some(Ok(Some(_)))))
    }
    async fn blob(&self, hash: &str) -> Result<Option<Bytes>, BlobError> {
        match self.blobs.get(hash) {
            None => Ok(None),
            Some(Ok(b)) => Ok(b.clone()),
            Some(Err(())) => {
                Err(BlobError::HashMismatch { expected: hash.into(), actual: "ff".into() })
            }
        }
    }
    async fn open_model(&self, _: &Listing) -> Result<std::result::Result<(), Refusal>> {
        Ok(match self.refusal {
            None => Ok(()),
            Some(reason) => Err(Refusal { reason, detail: "sealed model gone".into() }),
        })
    }
    fn expected_seconds(&self, _: &(), _: usize) -> f64 {
        self.expected_s
    }
    fn backlog_seconds(&self) -> f64 {
        self.backlog_s
    }
    fn admit(&self, secs: f64) -> Released {
        let secs = secs.ceil() as i64;
        self.admitted.fetch_add(secs, std::sync::atomic::Ordering::SeqCst);
        Released(self.admitted.clone(), secs)
    }
    fn cached_key(&self, _: &str) -> Option<()> {
        None
    }
    async fn expand_key(&self, _: &str, _: Bytes) -> Result<std::result::Result<(), FheError>> {
        Ok(if self.bad_key {
            Err(FheError::NonConformant { what: "evaluation key", why: "parameter set 2".into() })
        } else {
            Ok(())
        })
    }
    async fn evaluate(
        &self,
        _: (),
        _: (),
        _: Bytes,
        _: usize,
        _: usize,
        latest_start: i64,
    ) -> Result<std::result::Result<Vec<u8>, EvalFailure>> {
        assert!(
            self.admitted.load(std::sync::atomic::Ordering::SeqCst)
                >= self.expected_s.ceil() as i64,
            "the job's work is counted while it evaluates"
        );
        if self.slot_at > latest_start {
            return Ok(Err(EvalFailure::Late { now: self.slot_at }));
        }
        Ok((self.eval)())
    }
    async fn store_result(&self, bytes: Vec<u8>) -> Result<String> {
        self.stored.lock().unwrap_or_else(PoisonError::into_inner).push(bytes);
        Ok("beef".into())
    }
}

/// Releases admitted work when dropped, like the pipeline's ticket.
struct Released(std::sync::Arc<std::sync::atomic::AtomicI64>, i64);

impl Drop for Released {
    fn drop(&mut self) {
        self.0.fetch_sub(self.1, std::sync::atomic::Ordering::SeqCst);
    }
}

fn run(env: &Fake, c: &Claimed) -> Result<Decision> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| Error::Task(e.to_string()))?;
    rt.block_on(decide(env, c))
}

fn reason(d: &Result<Decision>) -> Option<u16> {
    match d {
        Ok(Decision::Reject(r, _)) => Some(*r),
        _ => None,
    }
}

#[test]
fn success_stores_and_submits_the_result() {
    let env = Fake::new();
    let d = run(&env, &claimed());
    assert!(matches!(&d, Ok(Decision::Submit(h)) if h == "beef"), "{d:?}");
    assert_eq!(*env.stored.lock().unwrap_or_else(PoisonError::into_inner), [b"result".to_vec()]);
}

#[test]
fn missing_input_and_key_blobs_are_rejected() {
    let mut env = Fake::new();
    env.blobs.remove(INPUT);
    assert_eq!(reason(&run(&env, &claimed())), Some(reasons::INPUT_MISSING));
    let mut env = Fake::new();
    env.blobs.remove(KEY);
    assert_eq!(reason(&run(&env, &claimed())), Some(reasons::KEY_MISSING));
}

#[test]
fn a_blob_that_does_not_hash_to_its_address_is_rejected() {
    let mut env = Fake::new();
    env.blobs.insert(INPUT.into(), Err(()));
    assert_eq!(reason(&run(&env, &claimed())), Some(reasons::HASH_MISMATCH));
}

#[test]
fn malformed_input_wrong_parameters_and_too_many_rows_are_rejected() {
    let cases: [(Eval, u16); 4] = [
        (
            || Err(EvalFailure::Fhe(FheError::Serialization("not a ciphertext".into()))),
            reasons::MALFORMED,
        ),
        (
            || {
                Err(EvalFailure::Fhe(FheError::NonConformant {
                    what: "input",
                    why: "set 2".into(),
                }))
            },
            reasons::NON_CONFORMANT,
        ),
        (
            || Err(EvalFailure::Fhe(FheError::TooManyRows { rows: 9, max: 8 })),
            reasons::TOO_MANY_ROWS,
        ),
        (|| Err(EvalFailure::RowCount { uploaded: 3 }), reasons::ROW_COUNT),
    ];
    for (eval, want) in cases {
        let env = Fake { eval, ..Fake::new() };
        assert_eq!(reason(&run(&env, &claimed())), Some(want));
        assert!(env.stored.lock().unwrap_or_else(PoisonError::into_inner).is_empty());
    }
    let env = Fake { bad_key: true, ..Fake::new() };
    assert_eq!(
        reason(&run(&env, &claimed())),
        Some(reasons::NON_CONFORMANT),
        "a key for other parameters"
    );
}

#[test]
fn a_job_that_cannot_finish_before_its_deadline_is_rejected_at_once() {
    // 1000 now + 590 expected + 15 margin > 1600
    let env = Fake { expected_s: 590.0, ..Fake::new() };
    assert_eq!(reason(&run(&env, &claimed())), Some(reasons::DEADLINE));
    let env = Fake { expected_s: 585.0, ..Fake::new() };
    assert!(matches!(run(&env, &claimed()), Ok(Decision::Submit(_))), "exactly in time");
}

/// Overload: a job that would finish in time alone but not behind the work already admitted
/// is rejected on arrival (refund, no slash), and its work is never counted.
#[test]
fn a_job_that_cannot_finish_behind_the_admitted_work_is_rejected_on_arrival() {
    // 1000 now + 500 ahead + 90 expected + 15 margin > 1600
    let env =
        Fake { expected_s: 90.0, backlog_s: 500.0, eval: || panic!("evaluated"), ..Fake::new() };
    let d = run(&env, &claimed());
    assert_eq!(reason(&d), Some(reasons::DEADLINE), "{d:?}");
    assert_eq!(env.admitted.load(std::sync::atomic::Ordering::SeqCst), 0);
    let env = Fake { expected_s: 90.0, backlog_s: 494.5, ..Fake::new() };
    assert!(matches!(run(&env, &claimed()), Ok(Decision::Submit(_))), "exactly in time");
    assert_eq!(env.admitted.load(std::sync::atomic::Ordering::SeqCst), 0, "released after");
}

/// The deadline is checked again when the evaluation slot comes: a slot that came too late
/// means a rejection, not a result posted after the deadline.
#[test]
fn a_slot_that_comes_too_late_means_a_rejection() {
    // latest start = 1600 - 3 - 15 = 1582
    let env = Fake { slot_at: 1_583, ..Fake::new() };
    assert_eq!(reason(&run(&env, &claimed())), Some(reasons::DEADLINE));
    assert!(env.stored.lock().unwrap_or_else(PoisonError::into_inner).is_empty());
    let env = Fake { slot_at: 1_582, ..Fake::new() };
    assert!(matches!(run(&env, &claimed()), Ok(Decision::Submit(_))));
}

/// A crash in the engine and a job that kept failing are answered (refund), not retried forever.
#[test]
fn a_panic_and_endless_retries_end_in_a_rejection() {
    let env =
        Fake { eval: || Err(EvalFailure::Panicked("index out of bounds".into())), ..Fake::new() };
    assert_eq!(reason(&run(&env, &claimed())), Some(reasons::ENGINE_FAILURE));
    let mut c = claimed();
    c.failures = MAX_FAILURES;
    let env = Fake { eval: || panic!("evaluated again"), ..Fake::new() };
    assert_eq!(reason(&run(&env, &c)), Some(reasons::ENGINE_FAILURE));
    c.failures = MAX_FAILURES - 1;
    assert!(matches!(run(&Fake::new(), &c), Ok(Decision::Submit(_))));
    // waits (a lagging index, an RPC outage) never count: a job claimed many times over while
    // the index caught up is still answered with its result
    c.failures = 0;
    c.attempts = 50;
    assert!(matches!(run(&Fake::new(), &c), Ok(Decision::Submit(_))));
}

#[test]
fn an_unservable_model_is_rejected() {
    let env = Fake { refusal: Some(reasons::CANNOT_OPEN), ..Fake::new() };
    assert_eq!(reason(&run(&env, &claimed())), Some(reasons::MODEL_UNAVAILABLE));
}

#[test]
fn settled_jobs_and_other_operators_jobs_are_left_alone() {
    for status in [JobStatus::Rejected, JobStatus::Expired, JobStatus::Completed, JobStatus::None] {
        let mut env = Fake::new();
        env.chain.status = status;
        assert!(matches!(run(&env, &claimed()), Ok(Decision::Settled(_))), "{status}");
    }
    let mut env = Fake::new();
    env.listing = Some(Listing {
        operator: "0x0000000000000000000000000000000000000001".into(),
        ..listing()
    });
    assert!(matches!(run(&env, &claimed()), Ok(Decision::Settled(_))));
}

#[test]
fn a_recorded_result_is_posted_again_not_recomputed() {
    let mut c = claimed();
    c.result_hash = Some(INPUT.into()); // stands for a stored result blob
    let mut env = Fake { eval: || panic!("evaluated again"), ..Fake::new() };
    assert!(matches!(run(&env, &c), Ok(Decision::Submit(h)) if h == INPUT));
    env.chain.status = JobStatus::Completed;
    assert!(matches!(run(&env, &c), Ok(Decision::Submit(h)) if h == INPUT), "posted, not recorded");
}

#[test]
fn a_queued_request_the_chain_does_not_hold_is_retried_not_answered() {
    for change in [
        |j: &mut ChainJob| j.rows = 3,
        |j: &mut ChainJob| j.deadline += 12,
        |j: &mut ChainJob| j.model_id = 5,
    ] {
        let mut env = Fake { eval: || panic!("evaluated another request"), ..Fake::new() };
        change(&mut env.chain);
        assert!(matches!(run(&env, &claimed()), Err(Error::NotReady(_))));
    }
    let env = Fake { listing: None, ..Fake::new() };
    assert!(matches!(run(&env, &claimed()), Err(Error::NotReady(_))), "listing not indexed yet");
    // a re-mined id with the same model, rows and deadline but another input (or key): the
    // recorded result for the old input is not posted, nothing is evaluated
    for request in
        [Some(("33".to_owned(), KEY.to_owned())), Some((INPUT.to_owned(), "44".to_owned())), None]
    {
        let env = Fake { request, eval: || panic!("evaluated another request"), ..Fake::new() };
        let mut c = claimed();
        c.result_hash = Some(INPUT.into());
        assert!(matches!(run(&env, &c), Err(Error::NotReady(_))));
    }
    let mut c = claimed();
    c.job.job_id = -1;
    assert!(
        matches!(run(&Fake::new(), &c), Err(Error::Protocol(_))),
        "an id out of range is an error"
    );
}
