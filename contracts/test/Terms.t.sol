// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Base} from "./Base.t.sol";
import {IModelMarket} from "../src/IModelMarket.sol";

/// @notice Operator terms, capacity and retirement: what a stranger cannot make an operator serve.
contract TermsTest is Base {
    uint96 internal constant MIN_FEE = 100_000;

    function _terms(uint32 perHour) internal pure returns (IModelMarket.OperatorTerms memory) {
        return IModelMarket.OperatorTerms({
            minFeePerRow: MIN_FEE, minJobDeadline: 10 minutes, maxRowsPerJob: MAX_ROWS, maxRowsPerHour: perHour
        });
    }

    function _setTerms(uint32 perHour) internal {
        vm.prank(operator);
        market.setOperatorTerms(_terms(perHour));
    }

    function test_registerOpensTermsAndSetTermsEmits() public {
        (IModelMarket.OperatorTerms memory t, uint256 used) = market.getOperatorTerms(operator);
        assertEq(t.minFeePerRow, 0);
        assertEq(t.minJobDeadline, market.MIN_JOB_DEADLINE());
        assertEq(t.maxRowsPerJob, type(uint32).max);
        assertEq(t.maxRowsPerHour, type(uint32).max);
        assertEq(used, 0);
        vm.expectEmit(true, false, false, true, address(market));
        emit IModelMarket.OperatorTermsSet(operator, _terms(500));
        _setTerms(500);
        (t,) = market.getOperatorTerms(operator);
        assertEq(t.minFeePerRow, MIN_FEE);
        assertEq(t.maxRowsPerHour, 500);
    }

    function testRevert_setOperatorTerms_outOfRange() public {
        IModelMarket.OperatorTerms memory t = _terms(500);
        vm.startPrank(operator);
        t.minJobDeadline = market.MIN_JOB_DEADLINE() - 1;
        vm.expectRevert(IModelMarket.InvalidTerms.selector);
        market.setOperatorTerms(t);
        t.minJobDeadline = MAX_DEADLINE + 1;
        vm.expectRevert(IModelMarket.InvalidTerms.selector);
        market.setOperatorTerms(t);
        t = _terms(500);
        t.maxRowsPerJob = 0;
        vm.expectRevert(IModelMarket.InvalidTerms.selector);
        market.setOperatorTerms(t);
        t = _terms(MAX_ROWS - 1);
        vm.expectRevert(IModelMarket.InvalidTerms.selector);
        market.setOperatorTerms(t);
        vm.stopPrank();
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.OperatorNotRegistered.selector, stranger));
        market.setOperatorTerms(_terms(500));
    }

    /// @notice Attack "stake drain": list a model naming an operator at fee 0 with a 1-second
    ///         deadline, request jobs, let them expire. The protocol minimum deadline and the
    ///         operator's terms refuse such a listing before any job exists.
    function testRevert_stakeDrainListing() public {
        _setTerms(500);
        IModelMarket.Listing memory l = _listing(address(0));
        vm.startPrank(stranger);
        l.jobDeadline = 1;
        vm.expectRevert(IModelMarket.InvalidListing.selector);
        market.listModel(l);
        l.jobDeadline = market.MIN_JOB_DEADLINE();
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.OutsideOperatorTerms.selector, operator));
        market.listModel(l);
        l = _listing(address(0));
        l.operatorFeePerRow = MIN_FEE - 1;
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.OutsideOperatorTerms.selector, operator));
        market.listModel(l);
        l = _listing(address(0));
        l.maxRows = MAX_ROWS + 1;
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.OutsideOperatorTerms.selector, operator));
        market.listModel(l);
        // within the terms the listing goes through (the operator still decides to accept)
        market.listModel(_listing(address(0)));
        vm.stopPrank();
    }

    /// @notice Attack "overload": requests beyond the operator's hourly capacity revert, so
    ///         nobody can hand an operator more rows than it said it can finish.
    function test_capacityPerHour() public {
        _setTerms(MAX_ROWS + 20);
        vm.warp((block.timestamp / 1 hours + 1) * 1 hours);
        _requestNative(MAX_ROWS);
        _requestUsd(20);
        (, uint256 used) = market.getOperatorTerms(operator);
        assertEq(used, MAX_ROWS + 20);
        vm.prank(buyer);
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.OperatorAtCapacity.selector, operator, 1, MAX_ROWS + 20));
        market.requestJob(_req(modelId, 1));
        // the next hour starts a fresh count
        vm.warp(block.timestamp + 1 hours);
        (, used) = market.getOperatorTerms(operator);
        assertEq(used, 0);
        _requestUsd(1);
    }

    /// @notice Listings made before the operator tightened its terms keep their fields; the
    ///         operator retires those it no longer wants (pending jobs still settle).
    function test_retireModel() public {
        uint256 pending = _requestUsd(1);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.NotModelOperator.selector, modelId));
        market.retireModel(modelId, 7);
        vm.prank(seller);
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.NotModelOperator.selector, modelId));
        market.retireModel(modelId, 7);

        vm.expectEmit(true, true, false, true, address(market));
        emit IModelMarket.ModelRetired(modelId, operator, 7);
        vm.prank(operator);
        market.retireModel(modelId, 7);
        assertTrue(market.getModel(modelId).status == IModelMarket.ModelStatus.Delisted);

        vm.prank(buyer);
        vm.expectRevert(
            abi.encodeWithSelector(IModelMarket.BadModelStatus.selector, modelId, IModelMarket.ModelStatus.Delisted)
        );
        market.requestJob(_req(modelId, 1));
        vm.prank(seller);
        vm.expectRevert(
            abi.encodeWithSelector(IModelMarket.BadModelStatus.selector, modelId, IModelMarket.ModelStatus.Delisted)
        );
        market.setModelPaused(modelId, false);
        vm.prank(operator);
        market.submitResult(pending, RESULT);
        assertTrue(market.getJob(pending).status == IModelMarket.JobStatus.Completed);
    }

    function test_retirePausedModel() public {
        vm.prank(seller);
        market.setModelPaused(modelId, true);
        vm.prank(operator);
        market.retireModel(modelId, 1);
        assertTrue(market.getModel(modelId).status == IModelMarket.ModelStatus.Delisted);
    }

    function testRevert_retireProposedModel() public {
        vm.prank(seller);
        uint256 id = market.listModel(_listing(address(0)));
        vm.prank(operator);
        vm.expectRevert(
            abi.encodeWithSelector(IModelMarket.BadModelStatus.selector, id, IModelMarket.ModelStatus.Proposed)
        );
        market.retireModel(id, 1);
    }
}
