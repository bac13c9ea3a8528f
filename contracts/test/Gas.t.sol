// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Base} from "./Base.t.sol";
import {IModelMarket} from "../src/IModelMarket.sol";

/// @notice Records the gas of the hot paths in `snapshots/GasTest.json` (`forge test`) and checks
///         them against the targets. Steady state: the market and the payees already hold balances.
contract GasTest is Base {
    uint256 internal constant REQUEST_TARGET = 150_000;
    uint256 internal constant SUBMIT_TARGET = 100_000;
    uint256 internal constant WITHDRAW_TARGET = 60_000;

    function setUp() public override {
        super.setUp();
        // warm-up job so balances are non-zero, as in steady operation
        uint256 j = _requestUsd(1);
        vm.prank(operator);
        market.submitResult(j, RESULT);
        usd.mint(seller, 1);
    }

    function test_gas_requestErc20() public {
        vm.prank(buyer);
        market.requestJob(_req(modelId, 10));
        assertLe(vm.snapshotGasLastCall("requestJob_erc20"), REQUEST_TARGET, "request gas");
    }

    /// @notice An operator with an hourly cap: every request also counts its rows.
    function test_gas_requestErc20_capped() public {
        _capOperator();
        vm.prank(buyer);
        market.requestJob(_req(modelId, 10));
        assertLe(vm.snapshotGasLastCall("requestJob_erc20_capped"), REQUEST_TARGET, "request gas (capped)");
    }

    /// @notice Permit request to an operator with an hourly cap (recorded; see BENCHMARKS.md).
    function test_gas_requestErc20WithPermit_capped() public {
        _capOperator();
        vm.prank(buyer);
        usd.approve(address(market), 0);
        uint256 total = 10 * uint256(PRICE + OP_FEE);
        (uint8 v, bytes32 r, bytes32 s) = _permitSig(address(usd), total, block.timestamp + 1);
        vm.prank(buyer);
        market.requestJobWithPermit(_req(modelId, 10), block.timestamp + 1, v, r, s);
        vm.snapshotGasLastCall("requestJob_erc20_permit_capped");
    }

    function test_gas_requestErc20WithPermit() public {
        vm.prank(buyer);
        usd.approve(address(market), 0);
        uint256 total = 10 * uint256(PRICE + OP_FEE);
        (uint8 v, bytes32 r, bytes32 s) = _permitSig(address(usd), total, block.timestamp + 1);
        vm.prank(buyer);
        market.requestJobWithPermit(_req(modelId, 10), block.timestamp + 1, v, r, s);
        assertLe(vm.snapshotGasLastCall("requestJob_erc20_permit"), REQUEST_TARGET, "permit request gas");
    }

    function test_gas_requestNative() public {
        uint256 total = 10 * uint256(PRICE + OP_FEE);
        vm.prank(buyer);
        market.requestJob{value: total}(_req(nativeModelId, 10));
        vm.snapshotGasLastCall("requestJob_native");
    }

    function test_gas_submitResult() public {
        uint256 j = _requestUsd(10);
        vm.prank(operator);
        market.submitResult(j, RESULT);
        assertLe(vm.snapshotGasLastCall("submitResult"), SUBMIT_TARGET, "submit gas");
    }

    function test_gas_submitResult_firstCredit() public {
        // worst case: seller and operator have never been credited in this token
        vm.prank(seller);
        market.withdraw(address(usd));
        vm.prank(operator);
        market.withdraw(address(usd));
        uint256 j = _requestUsd(10);
        vm.prank(operator);
        market.submitResult(j, RESULT);
        assertLe(vm.snapshotGasLastCall("submitResult_first_credit"), SUBMIT_TARGET, "submit gas (cold)");
    }

    function test_gas_withdraw() public {
        vm.prank(seller);
        market.withdraw(address(usd));
        assertLe(vm.snapshotGasLastCall("withdraw_erc20"), WITHDRAW_TARGET, "withdraw gas");
    }

    function test_gas_rejectAndExpire() public {
        uint256 j = _requestUsd(10);
        vm.prank(operator);
        market.rejectJob(j, 1);
        vm.snapshotGasLastCall("rejectJob");
        j = _requestUsd(10);
        vm.warp(block.timestamp + DEADLINE + 1);
        market.refundExpired(j);
        vm.snapshotGasLastCall("refundExpired");
    }

    /// @dev Give the operator an hourly cap and count one request against it (steady state).
    function _capOperator() internal {
        vm.prank(operator);
        market.setOperatorTerms(
            IModelMarket.OperatorTerms({
                minFeePerRow: 0, minJobDeadline: 60, maxRowsPerJob: MAX_ROWS, maxRowsPerHour: 10_000
            })
        );
        _requestUsd(1);
    }
}
