//! `modelmart-sdk`: the Rust SDK for ModelMart's buyers, sellers and operators.
//!
//! So far it holds [`seal`]: how a seller encrypts a compiled model so that only the operator it
//! chose can open it (HPKE, RFC 9180), bound to the listing's public model card. The buyer,
//! seller and operator flows (keys, uploads, payments, jobs) are still to come.
//!
//! This crate must not log or persist secrets (operator private keys, opened models).

pub mod seal;
