//! Paying for a job: the native coin as value, or an ERC-20 by EIP-2612 permit (one
//! transaction) or by a prior `approve` of exactly the price.

use alloy::{
    primitives::{Address, B256, U256, keccak256},
    rpc::types::TransactionReceipt,
    sol_types::SolValue,
};
use modelmart_bindings::{IModelMarket, TestToken};

use crate::{Chain, Error, Result, chain::rpc};

/// How an ERC-20 payment is authorized (the native coin is always sent as value).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Payment {
    /// Use the existing allowance if it covers the price, else a permit, else `approve`.
    #[default]
    Auto,
    /// `approve` exactly the price first (two transactions), unless the allowance covers it.
    Approve,
    /// Sign an EIP-2612 permit for the price and request in one transaction.
    Permit,
}

const PERMIT_TYPEHASH: &str =
    "Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)";
const PERMIT_SECONDS: u64 = 3_600;

/// Pay `price` in `token` and request `request` as `chain`'s account.
pub(crate) async fn pay_and_request(
    chain: &Chain,
    token: Address,
    request: IModelMarket::JobRequest,
    price: U256,
    payment: Payment,
) -> Result<TransactionReceipt> {
    let market = chain.market();
    if token == Address::ZERO {
        let call = market.requestJob(request).value(price);
        return chain.send("requestJob", call).await;
    }
    let erc20 = TestToken::new(token, chain.provider().clone());
    let allowance =
        erc20.allowance(chain.account(), *market.address()).call().await.map_err(rpc)?;
    let covered = allowance >= request.maxTotalPrice;
    let use_permit = match payment {
        Payment::Permit => true,
        Payment::Auto => !covered && erc20.DOMAIN_SEPARATOR().call().await.is_ok(),
        Payment::Approve => false,
    };
    if use_permit {
        let deadline = U256::from(chain.chain_time().await? + PERMIT_SECONDS);
        let value = request.maxTotalPrice;
        let domain = erc20.DOMAIN_SEPARATOR().call().await.map_err(rpc)?;
        let nonce = erc20.nonces(chain.account()).call().await.map_err(rpc)?;
        let digest =
            permit_digest(domain, chain.account(), *market.address(), value, nonce, deadline);
        let sig = chain.sign_hash(&digest)?;
        let v = 27 + u8::from(sig.v());
        let call = market.requestJobWithPermit(
            request,
            deadline,
            v,
            B256::from(sig.r()),
            B256::from(sig.s()),
        );
        return chain.send("requestJobWithPermit", call).await;
    }
    if !covered {
        let call = erc20.approve(*market.address(), request.maxTotalPrice);
        chain.send("approve", call).await?;
    }
    if price > request.maxTotalPrice {
        return Err(Error::PriceAboveMax { price, max: request.maxTotalPrice });
    }
    chain.send("requestJob", market.requestJob(request)).await
}

/// The EIP-712 digest an EIP-2612 `permit` signs.
fn permit_digest(
    domain: B256,
    owner: Address,
    spender: Address,
    value: U256,
    nonce: U256,
    deadline: U256,
) -> B256 {
    let typehash = keccak256(PERMIT_TYPEHASH);
    let st = keccak256((typehash, owner, spender, value, nonce, deadline).abi_encode());
    let mut buf = Vec::with_capacity(66);
    buf.extend_from_slice(b"\x19\x01");
    buf.extend_from_slice(domain.as_slice());
    buf.extend_from_slice(st.as_slice());
    keccak256(buf)
}
