//! Rust bindings for the ModelMart contracts.
//!
//! The code under `generated/` is produced by `forge bind` from the compiled contracts
//! (`make bindings`) and committed; CI (`make bindings-check`) fails if it drifts from the
//! Solidity sources. This crate must not contain hand-written logic: it is types, ABI codecs,
//! call builders, event decoders and deploy bytecode, nothing else.
//!
//! ```no_run
//! use alloy::providers::ProviderBuilder;
//! use modelmart_bindings::ModelMarket;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let provider = ProviderBuilder::new().connect_http("http://127.0.0.1:8545".parse()?);
//! let market = ModelMarket::new("0x5FbDB2315678afecb367f032d93F642f64180aa3".parse()?, provider);
//! let next_job = market.nextJobId().call().await?;
//! println!("next job id: {next_job}");
//! # Ok(()) }
//! ```

#[allow(missing_docs, unreachable_pub, rust_2018_idioms, clippy::all, clippy::pedantic)]
#[rustfmt::skip]
mod generated;

pub use generated::model_market::{
    IModelMarket, MarketBase,
    ModelMarket::{self, ModelMarketErrors, ModelMarketEvents, ModelMarketInstance},
};
pub use generated::test_token::TestToken::{self, TestTokenInstance};

/// The README's Rust examples, compiled as doctests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;
