// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Test} from "./utils/Test.sol";
import {ModelMarket} from "../src/ModelMarket.sol";
import {IModelMarket} from "../src/IModelMarket.sol";
import {TestToken} from "../src/mocks/TestToken.sol";

/// @notice Shared fixture: a market, a permit token, an active operator, an accepted model and a
///         buyer with a registered key, funds and an approval.
abstract contract Base is Test {
    ModelMarket internal market;
    TestToken internal usd;

    address internal owner = makeAddr("owner");
    address internal treasury = makeAddr("treasury");
    address internal operator = makeAddr("operator");
    address internal seller = makeAddr("seller");
    uint256 internal buyerPk = 0xB0B;
    address internal buyer = vm.addr(buyerPk);
    address internal stranger = makeAddr("stranger");

    uint16 internal constant FEE_BPS = 100;
    uint96 internal constant MIN_STAKE = 1 ether;
    uint96 internal constant PENALTY = 0.5 ether;
    uint256 internal constant UNBONDING = 8 days;
    uint32 internal constant MAX_DEADLINE = 7 days;
    uint96 internal constant PRICE = 1_000_000; // 1 mUSD per row to the seller
    uint96 internal constant OP_FEE = 200_000; // 0.2 mUSD per row to the operator
    uint32 internal constant MAX_ROWS = 100;
    uint32 internal constant DEADLINE = 1 hours;
    uint16 internal constant PARAMS = 1;
    bytes32 internal constant X25519 = keccak256("operator x25519 key");
    bytes32 internal constant CARD = keccak256("card");
    bytes32 internal constant SEALED = keccak256("sealed model");
    bytes32 internal constant KEY = keccak256("buyer evaluation key");
    bytes32 internal constant INPUT = keccak256("encrypted input");
    bytes32 internal constant RESULT = keccak256("encrypted result");

    uint256 internal modelId;
    uint256 internal nativeModelId;

    function setUp() public virtual {
        vm.label(buyer, "buyer");
        market = new ModelMarket(owner, treasury, FEE_BPS, MIN_STAKE, PENALTY, UNBONDING, MAX_DEADLINE);
        usd = new TestToken("ModelMart Test USD", "mUSD");
        vm.prank(owner);
        market.setTokenAllowed(address(usd), true);

        vm.deal(operator, 10 ether);
        vm.prank(operator);
        market.registerOperator{value: 2 ether}("http://127.0.0.1:8545/op", X25519);

        modelId = _listAndAccept(address(usd));
        nativeModelId = _listAndAccept(address(0));

        vm.prank(buyer);
        market.registerKey(KEY, PARAMS);
        usd.mint(buyer, 1_000_000e6);
        vm.prank(buyer);
        usd.approve(address(market), type(uint256).max);
        vm.deal(buyer, 100 ether);
    }

    function _listing(address token) internal view returns (IModelMarket.Listing memory) {
        return IModelMarket.Listing({
            operator: operator,
            token: token,
            pricePerRow: PRICE,
            operatorFeePerRow: OP_FEE,
            cardHash: CARD,
            sealedModelHash: SEALED,
            paramSet: PARAMS,
            maxRows: MAX_ROWS,
            jobDeadline: DEADLINE,
            outputMode: 2
        });
    }

    function _listAndAccept(address token) internal returns (uint256 id) {
        vm.prank(seller);
        id = market.listModel(_listing(token));
        vm.prank(operator);
        market.acceptModel(id);
    }

    function _req(uint256 model, uint32 rows) internal pure returns (IModelMarket.JobRequest memory) {
        return IModelMarket.JobRequest({
            // forge-lint: disable-next-line(unsafe-typecast) -- test ids are small
            modelId: uint64(model),
            inputHash: INPUT,
            keyHash: KEY,
            rows: rows,
            maxTotalPrice: uint256(rows) * (PRICE + OP_FEE)
        });
    }

    function _requestUsd(uint32 rows) internal returns (uint256 jobId) {
        vm.prank(buyer);
        jobId = market.requestJob(_req(modelId, rows));
    }

    function _requestNative(uint32 rows) internal returns (uint256 jobId) {
        uint256 total = uint256(rows) * (PRICE + OP_FEE);
        vm.prank(buyer);
        jobId = market.requestJob{value: total}(_req(nativeModelId, rows));
    }

    function _permitSig(address token, uint256 value, uint256 deadline)
        internal
        view
        returns (uint8 v, bytes32 r, bytes32 s)
    {
        TestToken t = TestToken(token);
        bytes32 typehash =
            keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)");
        bytes32 structHash = keccak256(abi.encode(typehash, buyer, address(market), value, t.nonces(buyer), deadline));
        bytes32 digest = keccak256(abi.encodePacked("\x19\x01", t.DOMAIN_SEPARATOR(), structHash));
        return vm.sign(buyerPk, digest);
    }
}
