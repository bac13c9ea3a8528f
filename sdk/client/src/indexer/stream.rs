//! The live stream (`GET /v1/stream`, Server-Sent Events) as a `Stream` of [`Update`]s.

use alloy::primitives::Address;
use futures_util::{Stream, StreamExt};
use modelmart_primitives::{JobId, JobStatus, ModelId, ModelStatus};
use serde::Deserialize;

use crate::{Error, Result};

/// A change the index announces once the block that caused it is indexed.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Update {
    /// A job was requested or settled.
    Job {
        /// The job.
        job_id: JobId,
        /// Its listing.
        model_id: ModelId,
        /// Who paid.
        buyer: Address,
        /// Who runs it.
        operator: Address,
        /// Its new status.
        status: JobStatus,
        /// The block of the change.
        block_number: u64,
    },
    /// A listing was created or changed.
    Model {
        /// The listing.
        model_id: ModelId,
        /// Its new status.
        status: ModelStatus,
        /// The block of the change.
        block_number: u64,
    },
    /// A reorg: everything above `block_number` was rolled back and will be indexed again.
    Rollback {
        /// The common ancestor kept.
        block_number: u64,
    },
    /// This client fell behind and missed this many updates: re-read what it shows.
    #[serde(skip)]
    Lagged(u64),
}

/// Which updates to receive (all optional, combined with AND).
#[derive(Clone, Debug, Default)]
pub struct StreamFilter {
    /// Only this job.
    pub job_id: Option<JobId>,
    /// Only this listing (its status and its jobs).
    pub model_id: Option<ModelId>,
    /// Only this buyer's jobs.
    pub buyer: Option<Address>,
    /// Only this operator's jobs.
    pub operator: Option<Address>,
}

impl StreamFilter {
    pub(super) fn query(&self) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        if let Some(j) = self.job_id {
            q.push(("job_id", j.get().to_string()));
        }
        if let Some(m) = self.model_id {
            q.push(("model_id", m.get().to_string()));
        }
        if let Some(b) = self.buyer {
            q.push(("buyer", b.to_string()));
        }
        if let Some(o) = self.operator {
            q.push(("operator", o.to_string()));
        }
        q
    }
}

/// Server-Sent Events from bytes in any chunking: complete events out, the rest kept.
#[derive(Debug, Default)]
pub(crate) struct SseParser {
    buf: Vec<u8>,
}

/// The largest event kept while waiting for its end (updates are a few hundred bytes).
const MAX_EVENT: usize = 64 * 1024;

impl SseParser {
    /// Feed `chunk`; returns the updates it completed.
    pub(crate) fn push(&mut self, chunk: &[u8]) -> Vec<Result<Update>> {
        self.buf.extend_from_slice(chunk);
        let mut out = Vec::new();
        while let Some(end) = self.buf.windows(2).position(|w| w == b"\n\n") {
            let block: Vec<u8> = self.buf.drain(..end + 2).collect();
            if let Some(u) = event(&String::from_utf8_lossy(&block)) {
                out.push(u);
            }
        }
        if self.buf.len() > MAX_EVENT {
            self.buf.clear();
            out.push(Err(Error::Indexer("stream: an event larger than 64 KiB".into())));
        }
        out
    }
}

/// One event block: `event:` and `data:` lines (comments and keep-alives are skipped).
fn event(block: &str) -> Option<Result<Update>> {
    let (mut kind, mut data) = ("message", String::new());
    for line in block.lines().map(|l| l.trim_end_matches('\r')) {
        if let Some(k) = line.strip_prefix("event:") {
            kind = k.trim();
        } else if let Some(d) = line.strip_prefix("data:") {
            if !data.is_empty() {
                data.push('\n');
            }
            data.push_str(d.strip_prefix(' ').unwrap_or(d));
        }
    }
    if data.is_empty() {
        return None;
    }
    Some(if kind == "lagged" {
        data.trim()
            .parse()
            .map(Update::Lagged)
            .map_err(|_| Error::Indexer(format!("stream: lagged by `{data}`")))
    } else {
        serde_json::from_str(&data)
            .map_err(|e| Error::Indexer(format!("stream: unexpected {kind} event: {e}")))
    })
}

/// The updates of an open `/v1/stream` response.
pub(super) fn updates(res: reqwest::Response) -> impl Stream<Item = Result<Update>> + Send {
    let mut parser = SseParser::default();
    res.bytes_stream().flat_map(move |chunk| {
        let items = match chunk {
            Ok(bytes) => parser.push(&bytes),
            Err(e) => vec![Err(Error::Indexer(format!("stream: {e}")))],
        };
        futures_util::stream::iter(items)
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const WIRE: &str = concat!(
        ": keep-alive\n\n",
        "event: job\ndata: {\"type\":\"job\",\"job_id\":7,\"model_id\":2,",
        "\"buyer\":\"0x70997970c51812dc3a010c7d01b50e0d17dc79c8\",",
        "\"operator\":\"0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc\",",
        "\"status\":\"completed\",\"block_number\":41}\n\n",
        "event: lagged\ndata: 3\n\n",
        "event: rollback\ndata: {\"type\":\"rollback\",\"block_number\":40}\n\n",
        "event: model\ndata: {\"type\":\"model\",\"model_id\":2,\"status\":\"paused\",",
        "\"block_number\":42}\n\n",
    );

    fn expected() -> Vec<Update> {
        vec![
            Update::Job {
                job_id: JobId::new(7).unwrap_or_default(),
                model_id: ModelId::new(2).unwrap_or_default(),
                buyer: "0x70997970c51812dc3a010c7d01b50e0d17dc79c8".parse().unwrap_or_default(),
                operator: "0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc".parse().unwrap_or_default(),
                status: JobStatus::Completed,
                block_number: 41,
            },
            Update::Lagged(3),
            Update::Rollback { block_number: 40 },
            Update::Model {
                model_id: ModelId::new(2).unwrap_or_default(),
                status: ModelStatus::Paused,
                block_number: 42,
            },
        ]
    }

    proptest! {
        /// However the bytes are cut, the same updates come out, in order.
        #[test]
        fn any_chunking_gives_the_same_updates(cuts in proptest::collection::vec(0usize..WIRE.len(), 0..12)) {
            let mut cuts = cuts;
            cuts.sort_unstable();
            let bytes = WIRE.as_bytes();
            let mut parser = SseParser::default();
            let mut got = Vec::new();
            let mut at = 0;
            for c in cuts.into_iter().chain([bytes.len()]) {
                got.extend(parser.push(&bytes[at..c.max(at)]));
                at = c.max(at);
            }
            let got: Vec<Update> = got.into_iter().collect::<Result<_>>().map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(got, expected());
        }
    }

    #[test]
    fn junk_is_an_error_and_an_endless_event_is_dropped() {
        let mut p = SseParser::default();
        let out = p.push(b"event: job\ndata: {\"type\":\"job\"}\n\n");
        assert!(matches!(&out[..], [Err(Error::Indexer(_))]));
        let out = p.push(&vec![b'x'; MAX_EVENT + 1]);
        assert!(matches!(&out[..], [Err(Error::Indexer(e))] if e.contains("64 KiB")));
        assert!(
            p.push(b"event: rollback\ndata: {\"type\":\"rollback\",\"block_number\":1}\n\n")[0]
                .is_ok()
        );
    }
}
