//! Reason codes an operator gives on chain when it rejects a job (`rejectJob`) or declines a
//! listing (`declineModel`). The coprocessor emits them; buyers, sellers and the web dApp show
//! them with [`describe`].

/// Job: the encrypted input blob is not on the operator's endpoint.
pub const INPUT_MISSING: u16 = 1;
/// Job: the evaluation-key blob is not on the operator's endpoint.
pub const KEY_MISSING: u16 = 2;
/// Job: a blob's bytes do not hash to the hash named on chain.
pub const HASH_MISMATCH: u16 = 3;
/// Job: the input or key is not a valid ciphertext/key blob (malformed bytes, wrong format).
pub const MALFORMED: u16 = 4;
/// Job: the input or key was made for other FHE parameters or has the wrong shape.
pub const NON_CONFORMANT: u16 = 5;
/// Job: the input holds more rows than the listing allows.
pub const TOO_MANY_ROWS: u16 = 6;
/// Job: the input holds another number of rows than the buyer paid for.
pub const ROW_COUNT: u16 = 7;
/// Job: the operator cannot serve the model any more (sealed model gone or unusable).
pub const MODEL_UNAVAILABLE: u16 = 8;
/// Job: the job cannot be finished before its deadline.
pub const DEADLINE: u16 = 9;
/// Job: the operator's engine failed on this job (a crash, or every retry failed).
pub const ENGINE_FAILURE: u16 = 10;

/// Listing: the sealed-model blob is not on the operator's endpoint.
pub const SEALED_MISSING: u16 = 101;
/// Listing: the sealed model does not open with this operator's key for this card.
pub const CANNOT_OPEN: u16 = 102;
/// Listing: the card blob is missing, malformed or inconsistent.
pub const CARD_INVALID: u16 = 103;
/// Listing: the sealed model is not the model the card describes.
pub const MODEL_MISMATCH: u16 = 104;
/// Listing: the listing's parameter set or output mode differs from the model's or card's.
pub const LISTING_MISMATCH: u16 = 105;
/// Listing: the operator's engine does not support this model or output mode.
pub const UNSUPPORTED: u16 = 106;
/// Listing: the listing asks less than the operator's current terms (fee, deadline, rows).
pub const OUTSIDE_TERMS: u16 = 107;
/// Listing: a job of the listing's maximum rows cannot finish within its deadline here.
pub const TOO_SLOW: u16 = 108;
/// Listing: the card names another listing (chain, market, seller or operator): a copy.
pub const CARD_ELSEWHERE: u16 = 109;

/// A reason code in words (the web dApp shows the same texts: `make bindings` copies them to
/// `web/src/abi/reasons.ts`).
pub fn describe(code: u16) -> &'static str {
    match code {
        INPUT_MISSING => "the encrypted input was not found at the operator",
        KEY_MISSING => {
            "the key named by the job was not found at the operator or is of the wrong kind"
        }
        HASH_MISMATCH => "a blob did not match its hash",
        MALFORMED => "the input or key could not be read (malformed ciphertext or key)",
        NON_CONFORMANT => {
            "the input or key was made for other FHE parameters or has the wrong shape"
        }
        TOO_MANY_ROWS => "the input holds more rows than the listing allows",
        ROW_COUNT => "the input holds another number of rows than the job paid for",
        MODEL_UNAVAILABLE => "the model is no longer available at the operator",
        DEADLINE => "the operator could not finish before the deadline",
        ENGINE_FAILURE => "the operator's engine failed on this job; nothing was charged",
        SEALED_MISSING => "the sealed model was not found at the operator",
        CANNOT_OPEN => "the sealed model does not open with this operator's key for this card",
        CARD_INVALID => "the model card is missing or invalid",
        MODEL_MISMATCH => "the sealed model is not the model its card describes",
        LISTING_MISMATCH => {
            "the listing disagrees with the model or its card (parameter set or output mode)"
        }
        UNSUPPORTED => "the operator's engine does not support this model or output mode",
        OUTSIDE_TERMS => {
            "the listing asks less than the operator's terms (fee, deadline or rows per job)"
        }
        TOO_SLOW => "a job of the listing's maximum rows cannot finish within its deadline here",
        CARD_ELSEWHERE => {
            "the model card names another listing (seller, operator, market or chain): a copy"
        }
        _ => "unknown reason",
    }
}
