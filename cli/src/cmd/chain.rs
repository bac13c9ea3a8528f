//! Options every chain command takes, and parsing of amounts.

use alloy::{primitives::Address, signers::local::PrivateKeySigner};
use eyre::WrapErr;
use modelmart_sdk::Chain;

/// Which chain, which contract, which account.
#[derive(Clone, Debug, clap::Args)]
pub(crate) struct ChainOpts {
    /// JSON-RPC URL.
    #[arg(long, env = "MODELMART_RPC_URL", default_value = modelmart_service::DEFAULT_RPC_URL, global = true)]
    pub(crate) rpc_url: String,
    /// ModelMarket contract address (`modelmart dev` prints it).
    #[arg(long, env = "MODELMART_CONTRACT", global = true)]
    pub(crate) contract: Option<Address>,
    /// The account's private key (hex).
    #[arg(long, env = "MODELMART_PRIVATE_KEY", hide_env_values = true, global = true)]
    pub(crate) private_key: Option<String>,
}

impl ChainOpts {
    pub(crate) async fn connect(&self) -> eyre::Result<Chain> {
        let contract = self
            .contract
            .ok_or_else(|| eyre::eyre!("--contract (MODELMART_CONTRACT) is required"))?;
        let key = self
            .private_key
            .as_deref()
            .ok_or_else(|| eyre::eyre!("--private-key (MODELMART_PRIVATE_KEY) is required"))?;
        let signer: PrivateKeySigner =
            key.trim().parse().wrap_err("--private-key is not a private key")?;
        Ok(Chain::connect(&self.rpc_url, signer, contract).await?)
    }
}

/// An address or `native` / `eth` for the native coin.
pub(crate) fn token(s: &str) -> eyre::Result<Address> {
    match s {
        "native" | "eth" | "0" => Ok(Address::ZERO),
        other => other.parse().wrap_err_with(|| format!("`{other}` is not a token address")),
    }
}
