//! `modelmart-listing`: what a ModelMart seller publishes, shared by the SDK, the coprocessor and
//! the browser (`web/wasm`).
//!
//! - [`card`]: the public model card (what the model does, how well, what it costs, what its
//!   results reveal, and everything a buyer needs to encrypt and decode), and
//!   [`card::prepare_listing`], which compiles a model and measures it for its card.
//! - [`seal`]: a compiled model sealed to one operator's X25519 key with HPKE, bound to the card.
//!
//! This crate must not do I/O, talk to a chain or keep secrets: it turns bytes into bytes. It
//! compiles to `wasm32-unknown-unknown`.

pub mod card;
pub mod seal;
