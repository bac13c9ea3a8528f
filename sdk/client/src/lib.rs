//! `modelmart-sdk`: the Rust SDK for ModelMart's buyers, sellers and operators.
//!
//! So far it holds [`card`], the public model card a listing's `cardHash` names (everything a
//! buyer needs to encode, encrypt, decrypt and decode, and nothing of the weights), and [`seal`]:
//! how a seller encrypts a compiled model so that only the operator it chose can open it (HPKE,
//! RFC 9180), bound to that card. The buyer, seller and operator flows (keys, uploads, payments,
//! jobs) are still to come.
//!
//! This crate must not log or persist secrets (operator private keys, opened models).

pub mod card;
pub mod seal;
