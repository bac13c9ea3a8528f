//! `modelmart-testkit`: what every ModelMart test suite and bench needs to reach a chain — a
//! fresh anvil from the version pinned in `contracts/package.json` (or `MODELMART_ANVIL`).
//! Contract deployment for tests is `modelmart_sdk::dev::deploy`, the same as `modelmart dev`.
//!
//! Test support only: it must not be a dependency of any product crate, and it depends on no
//! ModelMart crate, so that any crate's tests (the bindings' included) can use it.

use std::path::PathBuf;

use alloy::node_bindings::{Anvil, AnvilInstance};

/// The repository's root folder.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Path of the anvil binary: `MODELMART_ANVIL`, else the platform binary `npm ci` put in
/// `contracts/node_modules` (the `.bin` wrapper exits 0 on failure, so it is not used).
pub fn anvil_binary() -> PathBuf {
    std::env::var_os("MODELMART_ANVIL").map(PathBuf::from).unwrap_or_else(|| {
        root().join("contracts/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil")
    })
}

/// Start a fresh anvil on a free port with extra `args` (`--block-time`, `--no-mining`, ...).
pub fn spawn_anvil(args: &[&str]) -> eyre::Result<AnvilInstance> {
    let path = anvil_binary();
    eyre::ensure!(path.exists(), "anvil not found at {} (run `make deps`)", path.display());
    Ok(Anvil::at(path).args(args.iter().copied()).try_spawn()?)
}

/// Check that the committed API document at `path` (relative to the repository root) is `fresh`
/// (the one the code generates); with `MODELMART_UPDATE_OPENAPI` set, write it first.
pub fn assert_spec_current(path: &str, fresh: &str) -> eyre::Result<()> {
    let file = root().join(path);
    if std::env::var_os("MODELMART_UPDATE_OPENAPI").is_some() {
        std::fs::write(&file, fresh)?;
    }
    let committed = std::fs::read_to_string(&file).unwrap_or_default();
    eyre::ensure!(
        committed == fresh,
        "{path} is stale: run the test again with MODELMART_UPDATE_OPENAPI=1 and commit it"
    );
    Ok(())
}
