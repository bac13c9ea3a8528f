//! Local development deployments: the marketplace and a permit test token on a dev chain (anvil),
//! with the same settings as `contracts/script/Deploy.s.sol`. For `modelmart dev` and tests;
//! never for a real network.

use alloy::{
    primitives::{Address, U256, aliases::U96},
    providers::{DynProvider, Provider},
};
use modelmart_bindings::{ModelMarket, TestToken};

use crate::{Result, chain::rpc};

/// One ether in wei.
pub const ETH: u128 = 1_000_000_000_000_000_000;
/// Protocol fee of dev deployments, in basis points.
pub const FEE_BPS: u16 = 100;
/// Minimum operator stake of dev deployments.
pub const MIN_STAKE: u128 = ETH;
/// Slash penalty per expired job of dev deployments.
pub const SLASH_PENALTY: u128 = ETH / 10;

/// Addresses of a dev deployment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deployment {
    /// The ModelMarket contract.
    pub market: Address,
    /// The permit test token (mUSD, 6 decimals, anyone may mint), allowed for listings.
    pub token: Address,
    /// Block of the market's deployment (where indexing starts).
    pub block: u64,
}

/// Deploy the market (owned by `owner`, fees to `treasury`) and an allowed test token, sending
/// from `provider`'s wallet as `owner`.
pub async fn deploy(
    provider: &DynProvider,
    owner: Address,
    treasury: Address,
) -> Result<Deployment> {
    let market = ModelMarket::deploy(
        provider.clone(),
        owner,
        treasury,
        FEE_BPS,
        U96::from(MIN_STAKE),
        U96::from(SLASH_PENALTY),
        U256::from(8 * 86_400),
        7 * 86_400,
    )
    .await
    .map_err(rpc)?;
    let block = provider.get_block_number().await.map_err(rpc)?;
    let token = TestToken::deploy(provider.clone(), "ModelMart Test USD".into(), "mUSD".into())
        .await
        .map_err(rpc)?;
    market
        .setTokenAllowed(*token.address(), true)
        .from(owner)
        .send()
        .await
        .map_err(rpc)?
        .get_receipt()
        .await
        .map_err(rpc)?;
    Ok(Deployment { market: *market.address(), token: *token.address(), block })
}
