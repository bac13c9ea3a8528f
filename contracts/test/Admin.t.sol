// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Base} from "./Base.t.sol";
import {IModelMarket} from "../src/IModelMarket.sol";
import {ModelMarket} from "../src/ModelMarket.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

contract AdminTest is Base {
    function test_constructorState() public view {
        (uint16 bps, address t) = market.protocolFee();
        assertEq(bps, FEE_BPS);
        assertEq(t, treasury);
        assertEq(market.minStake(), MIN_STAKE);
        assertEq(market.slashPenalty(), PENALTY);
        assertEq(market.UNBONDING_DELAY(), UNBONDING);
        assertEq(market.MAX_JOB_DEADLINE(), MAX_DEADLINE);
        assertEq(market.owner(), owner);
        assertTrue(market.isTokenAllowed(address(0)));
        assertTrue(market.isTokenAllowed(address(usd)));
        assertEq(usd.decimals(), 6);
    }

    function testRevert_constructor_badConfig() public {
        vm.expectRevert(IModelMarket.InvalidConfig.selector);
        new ModelMarket(owner, treasury, 0, 0, 0, 7 days, 7 days);
        vm.expectRevert(IModelMarket.InvalidConfig.selector);
        new ModelMarket(owner, treasury, 0, 0, 0, 7 days, 0);
        vm.expectRevert(IModelMarket.InvalidConfig.selector);
        new ModelMarket(owner, treasury, 0, 0, 0, 7 days, 59);
        vm.expectRevert(IModelMarket.InvalidTreasury.selector);
        new ModelMarket(owner, address(0), 0, 0, 0, 8 days, 7 days);
    }

    function test_setProtocolFee() public {
        vm.expectEmit(false, false, false, true, address(market));
        emit IModelMarket.ProtocolFeeSet(500, stranger);
        vm.prank(owner);
        market.setProtocolFee(500, stranger);
        (uint16 bps, address t) = market.protocolFee();
        assertEq(bps, 500);
        assertEq(t, stranger);
    }

    function testRevert_setProtocolFee() public {
        vm.startPrank(owner);
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.FeeTooHigh.selector, 1001, 1000));
        market.setProtocolFee(1001, treasury);
        vm.expectRevert(IModelMarket.InvalidTreasury.selector);
        market.setProtocolFee(10, address(0));
        vm.stopPrank();
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        market.setProtocolFee(10, treasury);
    }

    function test_feeFixedAtRequest() public {
        uint256 jobId = _requestUsd(1);
        vm.prank(owner);
        market.setProtocolFee(1000, treasury);
        vm.prank(operator);
        market.submitResult(jobId, RESULT);
        uint256 total = uint256(PRICE + OP_FEE);
        assertEq(market.balanceOf(treasury, address(usd)), total * FEE_BPS / 10_000);
    }

    function test_setStakeParams() public {
        vm.expectEmit(false, false, false, true, address(market));
        emit IModelMarket.StakeParamsSet(4, 3);
        vm.prank(owner);
        market.setStakeParams(4, 3);
        assertEq(market.minStake(), 4);
        assertEq(market.slashPenalty(), 3);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        market.setStakeParams(4, 3);
    }

    /// @notice Owner powers are bounded: no minimum stake above the cap, no penalty above the
    ///         minimum stake, and the market cannot be left without an owner.
    function testRevert_setStakeParams_outOfRange() public {
        uint96 cap = market.MAX_MIN_STAKE();
        vm.startPrank(owner);
        vm.expectRevert(IModelMarket.InvalidStakeParams.selector);
        market.setStakeParams(cap + 1, 0);
        vm.expectRevert(IModelMarket.InvalidStakeParams.selector);
        market.setStakeParams(1 ether, 1 ether + 1);
        vm.expectRevert(IModelMarket.InvalidStakeParams.selector);
        new ModelMarket(owner, treasury, 0, 1 ether, 2 ether, UNBONDING, MAX_DEADLINE);
        market.setStakeParams(cap, cap);
        vm.stopPrank();
    }

    function testRevert_renounceOwnership() public {
        vm.prank(owner);
        vm.expectRevert(IModelMarket.RenounceDisabled.selector);
        market.renounceOwnership();
        assertEq(market.owner(), owner);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        market.renounceOwnership();
    }

    /// @notice A pending job keeps the penalty in force when it was requested: the owner cannot
    ///         raise what an operator loses on a job it already took.
    function test_penaltyFixedAtRequest() public {
        uint256 jobId = _requestUsd(1);
        vm.prank(owner);
        market.setStakeParams(MIN_STAKE, MIN_STAKE);
        uint256 later = _requestUsd(1);
        vm.warp(block.timestamp + DEADLINE + 1);
        (, uint256 before,,,) = market.getOperator(operator);
        market.refundExpired(jobId);
        (, uint256 stake,,,) = market.getOperator(operator);
        assertEq(before - stake, PENALTY);
        market.refundExpired(later);
        (, uint256 after_,,,) = market.getOperator(operator);
        assertEq(stake - after_, MIN_STAKE);
    }

    function test_tokenAllowList() public {
        vm.expectEmit(true, false, false, true, address(market));
        emit IModelMarket.TokenAllowed(address(usd), false);
        vm.prank(owner);
        market.setTokenAllowed(address(usd), false);
        assertFalse(market.isTokenAllowed(address(usd)));
        vm.prank(seller);
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.TokenNotAllowed.selector, address(usd)));
        market.listModel(_listing(address(usd)));
        vm.prank(owner);
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.TokenNotAllowed.selector, address(0)));
        market.setTokenAllowed(address(0), false);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        market.setTokenAllowed(address(usd), true);
    }

    function test_ownershipTwoStep() public {
        vm.prank(owner);
        market.transferOwnership(stranger);
        assertEq(market.owner(), owner);
        assertEq(market.pendingOwner(), stranger);
        vm.prank(stranger);
        market.acceptOwnership();
        assertEq(market.owner(), stranger);
    }
}
