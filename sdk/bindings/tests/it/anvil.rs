//! Spawn anvil from the pinned npm package (`contracts/node_modules`), or `MODELMART_ANVIL`.

use std::path::PathBuf;

use alloy::node_bindings::{Anvil, AnvilInstance};

/// Path of the anvil binary: `MODELMART_ANVIL`, else the one `npm ci` put in `contracts/`.
pub(crate) fn binary() -> PathBuf {
    std::env::var_os("MODELMART_ANVIL").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../contracts/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil")
    })
}

/// Start a fresh anvil on a free port.
pub(crate) fn spawn() -> eyre::Result<AnvilInstance> {
    let path = binary();
    eyre::ensure!(path.exists(), "anvil not found at {} (run `make deps`)", path.display());
    Ok(Anvil::at(path).try_spawn()?)
}
