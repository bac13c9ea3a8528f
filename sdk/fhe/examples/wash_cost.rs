//! What washing a bootstrapped one-bit result costs (Ducas–Stehlé soak-spin-repeat on this
//! engine's bootstrap, `fhe/eval/wash.rs`): `WASH_BOOTSTRAPS` sign bootstraps and one more
//! re-randomization per bit, on one thread and with each bootstrap split over two, next to one
//! plain bootstrap, and the size of the 64-bit public key it needs.
//!
//! `cargo run --release -p modelmart-fhe --example wash_cost` (about a minute).

#![allow(clippy::print_stdout)] // an example: its output is the measurement

use std::time::Instant;

use modelmart_fhe::fhe::{self, ClientKey, ServerKey, WASH_BOOTSTRAPS};
use modelmart_fhe::params::ParamSetId;

fn main() -> modelmart_fhe::Result<()> {
    let client = ClientKey::generate(ParamSetId::default())?;
    let server = ServerKey::expand(&client.evaluation_key()?)?;
    let (mut pbs, mut wash, mut split) = (Vec::new(), Vec::new(), Vec::new());
    let mut key_bytes = 0;
    for _ in 0..5 {
        let start = Instant::now();
        fhe::bench_bootstraps(&client, &server, 20)?;
        pbs.push(start.elapsed().as_secs_f64() * 1e3 / 20.0);
        let (per_wash, bytes) = fhe::bench_wash(&client, &server, 5, false)?;
        wash.push(per_wash.as_secs_f64() * 1e3);
        let (per_split, _) = fhe::bench_wash(&client, &server, 5, true)?;
        split.push(per_split.as_secs_f64() * 1e3);
        key_bytes = bytes;
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "{{\"bootstrap_ms\":{:.1},\"wash_ms\":{:.1},\"wash_split_ms\":{:.1},\"wash_bootstraps\":{WASH_BOOTSTRAPS},\"public_key_bytes\":{key_bytes},\"distance_log\":{:.1}}}",
        median(&mut pbs),
        median(&mut wash),
        median(&mut split),
        fhe::wash_distance_log()
    );
    Ok(())
}
