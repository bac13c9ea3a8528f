//! Integration test: deploy the contracts to a fresh anvil through the generated bindings and run
//! one paid job end to end (list, accept, register key, request with an ERC-20, submit result,
//! withdraw), checking balances, decoded events and the gas of the hot paths.

use alloy::{
    network::EthereumWallet,
    primitives::{B256, U256, aliases::U96, keccak256},
    providers::{Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
};
use modelmart_bindings::{IModelMarket, ModelMarket, TestToken};

#[tokio::test(flavor = "multi_thread")]
async fn deploy_list_request_submit_withdraw() -> eyre::Result<()> {
    let node = modelmart_testkit::spawn_anvil(&[])?;
    let keys: Vec<PrivateKeySigner> =
        node.keys().iter().take(5).map(|k| k.clone().into()).collect();
    let [deployer, operator, seller, buyer, treasury] = [0, 1, 2, 3, 4].map(|i| keys[i].address());
    let mut wallet = EthereumWallet::new(keys[0].clone());
    for k in &keys[1..] {
        wallet.register_signer(k.clone());
    }
    let provider = ProviderBuilder::new().wallet(wallet).connect_http(node.endpoint_url());

    // deploy
    let market = ModelMarket::deploy(
        &provider,
        deployer,
        treasury,
        100,
        U96::from(10u128.pow(18)),
        U96::from(10u128.pow(17)),
        U256::from(8 * 86_400),
        7 * 86_400,
    )
    .await?;
    let usd = TestToken::deploy(&provider, "ModelMart Test USD".into(), "mUSD".into()).await?;
    market.setTokenAllowed(*usd.address(), true).send().await?.get_receipt().await?;

    // operator registers and seller lists a model paid in the test token
    let r = market
        .registerOperator("http://127.0.0.1:7070".into(), keccak256("x25519"))
        .from(operator)
        .value(U256::from(2u128 * 10u128.pow(18)))
        .send()
        .await?
        .get_receipt()
        .await?;
    assert!(r.status());
    let listing = IModelMarket::Listing {
        operator,
        token: *usd.address(),
        pricePerRow: U96::from(1_000_000u64),
        operatorFeePerRow: U96::from(200_000u64),
        cardHash: keccak256("card"),
        sealedModelHash: keccak256("sealed"),
        paramSet: 1,
        maxRows: 64,
        jobDeadline: 3600,
        outputMode: 2,
    };
    let r = market.listModel(listing).from(seller).send().await?.get_receipt().await?;
    let listed = r
        .decoded_log::<ModelMarket::ModelListed>()
        .ok_or_else(|| eyre::eyre!("no ModelListed event"))?;
    let model_id = listed.modelId;
    assert_eq!(listed.seller, seller);
    assert_eq!(listed.listing.maxRows, 64);
    market.acceptModel(model_id).from(operator).send().await?.get_receipt().await?;

    // buyer: key, funds, approval, request
    let key_hash = keccak256("buyer key blob");
    market.registerKey(key_hash, 1).from(buyer).send().await?.get_receipt().await?;
    usd.mint(buyer, U256::from(10u64.pow(12))).send().await?.get_receipt().await?;
    usd.approve(*market.address(), U256::MAX).from(buyer).send().await?.get_receipt().await?;
    let rows = 10u32;
    let quote = market.quote(model_id, rows).call().await?;
    assert_eq!(quote, U256::from(12_000_000u64));
    let request = IModelMarket::JobRequest {
        modelId: model_id.to::<u64>(),
        inputHash: keccak256("encrypted input"),
        keyHash: key_hash,
        rows,
        maxTotalPrice: quote,
    };
    let r = market.requestJob(request.clone()).from(buyer).send().await?.get_receipt().await?;
    assert!(r.status());
    let request_gas = r.gas_used;
    let requested = r
        .decoded_log::<ModelMarket::JobRequested>()
        .ok_or_else(|| eyre::eyre!("no JobRequested event"))?;
    assert_eq!(requested.buyer, buyer);
    assert_eq!(requested.operator, operator);
    assert_eq!(requested.rows, rows);
    assert_eq!(usd.balanceOf(*market.address()).call().await?, quote);

    // a stranger cannot post the result; the operator can
    let Err(err) =
        market.submitResult(requested.jobId, B256::repeat_byte(7)).from(seller).call().await
    else {
        eyre::bail!("only the operator may submit");
    };
    let decoded = err.as_decoded_interface_error::<ModelMarket::ModelMarketErrors>();
    assert!(matches!(decoded, Some(ModelMarket::ModelMarketErrors::NotJobOperator(_))), "{err}");
    let r = market
        .submitResult(requested.jobId, keccak256("encrypted result"))
        .from(operator)
        .send()
        .await?
        .get_receipt()
        .await?;
    let submit_gas = r.gas_used;
    let done = r
        .decoded_log::<ModelMarket::JobCompleted>()
        .ok_or_else(|| eyre::eyre!("no JobCompleted event"))?;
    assert_eq!(done.resultHash, keccak256("encrypted result"));
    assert_eq!(done.sellerAmount, U256::from(9_900_000u64));
    assert_eq!(done.operatorAmount, U256::from(1_980_000u64));
    assert_eq!(done.protocolFee, U256::from(120_000u64));
    let job = market.getJob(requested.jobId).call().await?;
    assert_eq!(job.status, 2, "Completed");

    // a second job: steady state (every payee already holds a balance in this token)
    let request2 = IModelMarket::JobRequest { inputHash: keccak256("input 2"), ..request };
    let r = market.requestJob(request2).from(buyer).send().await?.get_receipt().await?;
    let steady_request_gas = r.gas_used;
    let job2 = r
        .decoded_log::<ModelMarket::JobRequested>()
        .ok_or_else(|| eyre::eyre!("no JobRequested event"))?
        .jobId;
    let r = market
        .submitResult(job2, keccak256("result 2"))
        .from(operator)
        .send()
        .await?
        .get_receipt()
        .await?;
    let steady_submit_gas = r.gas_used;

    // seller withdraws exactly what it earned
    let r = market.withdraw(*usd.address()).from(seller).send().await?.get_receipt().await?;
    let withdraw_gas = r.gas_used;
    assert_eq!(usd.balanceOf(seller).call().await?, U256::from(2 * 9_900_000u64));
    assert_eq!(market.balanceOf(seller, *usd.address()).call().await?, U256::ZERO);

    // tx gas (including the 21k intrinsic cost) on a real node
    println!(
        "anvil receipts: requestJob(erc20) first {request_gas} / steady {steady_request_gas} gas; \
         submitResult first credit of all three payees {submit_gas} / steady {steady_submit_gas} \
         gas; withdraw {withdraw_gas} gas"
    );
    assert!(steady_request_gas <= 150_000, "request {steady_request_gas}");
    assert!(steady_submit_gas <= 100_000, "submit {steady_submit_gas}");
    assert!(withdraw_gas <= 60_000, "withdraw {withdraw_gas}");
    assert_ne!(provider.get_block_number().await?, 0);
    Ok(())
}
