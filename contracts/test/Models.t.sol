// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Base} from "./Base.t.sol";
import {IModelMarket} from "../src/IModelMarket.sol";
import {MarketBase} from "../src/MarketBase.sol";

contract ModelsTest is Base {
    function test_list_storesAndEmits() public {
        IModelMarket.Listing memory l = _listing(address(usd));
        vm.expectEmit(true, true, true, true, address(market));
        emit IModelMarket.ModelListed(3, seller, operator, l);
        vm.prank(seller);
        uint256 id = market.listModel(l);
        assertEq(id, 3);
        MarketBase.Model memory m = market.getModel(id);
        assertEq(m.seller, seller);
        assertEq(m.operator, operator);
        assertEq(m.token, address(usd));
        assertEq(m.pricePerRow, PRICE);
        assertEq(m.operatorFeePerRow, OP_FEE);
        assertEq(m.maxRows, MAX_ROWS);
        assertEq(m.jobDeadline, DEADLINE);
        assertEq(m.paramSet, PARAMS);
        assertTrue(m.status == IModelMarket.ModelStatus.Proposed);

        // not usable until accepted
        vm.prank(buyer);
        vm.expectRevert(
            abi.encodeWithSelector(IModelMarket.BadModelStatus.selector, id, IModelMarket.ModelStatus.Proposed)
        );
        market.requestJob(_req(id, 1));

        vm.expectEmit(true, true, false, false, address(market));
        emit IModelMarket.ModelAccepted(id, operator);
        vm.prank(operator);
        market.acceptModel(id);
        assertTrue(market.getModel(id).status == IModelMarket.ModelStatus.Active);
    }

    function testRevert_list_invalidFields() public {
        IModelMarket.Listing memory l = _listing(address(usd));
        vm.startPrank(seller);
        l.maxRows = 0;
        vm.expectRevert(IModelMarket.InvalidListing.selector);
        market.listModel(l);
        l = _listing(address(usd));
        l.jobDeadline = 0;
        vm.expectRevert(IModelMarket.InvalidListing.selector);
        market.listModel(l);
        l.jobDeadline = MAX_DEADLINE + 1;
        vm.expectRevert(IModelMarket.InvalidListing.selector);
        market.listModel(l);
        l = _listing(address(usd));
        l.cardHash = 0;
        vm.expectRevert(IModelMarket.InvalidListing.selector);
        market.listModel(l);
        l = _listing(address(usd));
        l.sealedModelHash = 0;
        vm.expectRevert(IModelMarket.InvalidListing.selector);
        market.listModel(l);
        l = _listing(address(usd));
        l.outputMode = 3;
        vm.expectRevert(IModelMarket.InvalidListing.selector);
        market.listModel(l);
        l = _listing(address(0xdead));
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.TokenNotAllowed.selector, address(0xdead)));
        market.listModel(l);
        l = _listing(address(usd));
        l.operator = stranger;
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.OperatorNotActive.selector, stranger));
        market.listModel(l);
        vm.stopPrank();
    }

    function testRevert_accept() public {
        vm.prank(seller);
        uint256 id = market.listModel(_listing(address(usd)));
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.NotModelOperator.selector, id));
        market.acceptModel(id);
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.UnknownModel.selector, 99));
        market.acceptModel(99);
        vm.prank(operator);
        vm.expectRevert(
            abi.encodeWithSelector(IModelMarket.BadModelStatus.selector, modelId, IModelMarket.ModelStatus.Active)
        );
        market.acceptModel(modelId);
        // operator that started leaving cannot accept
        vm.startPrank(operator);
        market.startUnbonding();
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.OperatorNotActive.selector, operator));
        market.acceptModel(id);
        vm.stopPrank();
    }

    function test_decline() public {
        vm.prank(seller);
        uint256 id = market.listModel(_listing(address(usd)));
        vm.expectEmit(true, true, false, true, address(market));
        emit IModelMarket.ModelDeclined(id, operator, 3);
        vm.prank(operator);
        market.declineModel(id, 3);
        assertTrue(market.getModel(id).status == IModelMarket.ModelStatus.Declined);
        vm.prank(operator);
        vm.expectRevert(
            abi.encodeWithSelector(IModelMarket.BadModelStatus.selector, id, IModelMarket.ModelStatus.Declined)
        );
        market.declineModel(id, 3);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.NotModelOperator.selector, id));
        market.declineModel(id, 3);
        vm.prank(seller);
        vm.expectRevert(
            abi.encodeWithSelector(IModelMarket.BadModelStatus.selector, id, IModelMarket.ModelStatus.Declined)
        );
        market.repriceModel(id, 1);
    }

    function test_reprice_neverOverchargesPendingJob() public {
        uint256 jobId = _requestUsd(2);
        vm.expectEmit(true, false, false, true, address(market));
        emit IModelMarket.ModelRepriced(modelId, PRICE * 3);
        vm.prank(seller);
        market.repriceModel(modelId, PRICE * 3);
        assertEq(market.quote(modelId, 2), 2 * (uint256(PRICE) * 3 + OP_FEE));
        // the pending job settles at the old price
        vm.prank(operator);
        market.submitResult(jobId, RESULT);
        uint256 gross = 2 * uint256(PRICE);
        assertEq(market.balanceOf(seller, address(usd)), gross - gross * FEE_BPS / 10_000);
        // a request made with the old maximum now fails instead of overpaying
        vm.prank(buyer);
        vm.expectRevert(
            abi.encodeWithSelector(
                IModelMarket.PriceAboveMax.selector, 2 * (uint256(PRICE) * 3 + OP_FEE), 2 * uint256(PRICE + OP_FEE)
            )
        );
        market.requestJob(_req(modelId, 2));
    }

    function testRevert_sellerOnly() public {
        vm.startPrank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.NotSeller.selector, modelId));
        market.repriceModel(modelId, 1);
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.NotSeller.selector, modelId));
        market.setModelPaused(modelId, true);
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.NotSeller.selector, modelId));
        market.delistModel(modelId);
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.UnknownModel.selector, 77));
        market.delistModel(77);
        vm.stopPrank();
    }

    function test_pauseResume() public {
        vm.prank(seller);
        vm.expectEmit(true, false, false, true, address(market));
        emit IModelMarket.ModelPaused(modelId, true);
        market.setModelPaused(modelId, true);
        vm.prank(buyer);
        vm.expectRevert(
            abi.encodeWithSelector(IModelMarket.BadModelStatus.selector, modelId, IModelMarket.ModelStatus.Paused)
        );
        market.requestJob(_req(modelId, 1));
        vm.prank(seller);
        vm.expectRevert(
            abi.encodeWithSelector(IModelMarket.BadModelStatus.selector, modelId, IModelMarket.ModelStatus.Paused)
        );
        market.setModelPaused(modelId, true);
        vm.prank(seller);
        market.setModelPaused(modelId, false);
        _requestUsd(1);
        vm.prank(seller);
        vm.expectRevert(
            abi.encodeWithSelector(IModelMarket.BadModelStatus.selector, modelId, IModelMarket.ModelStatus.Active)
        );
        market.setModelPaused(modelId, false);
    }

    function test_delist_pendingJobStillSettles() public {
        uint256 jobId = _requestUsd(1);
        vm.expectEmit(true, false, false, false, address(market));
        emit IModelMarket.ModelDelisted(modelId);
        vm.prank(seller);
        market.delistModel(modelId);
        vm.prank(buyer);
        vm.expectRevert(
            abi.encodeWithSelector(IModelMarket.BadModelStatus.selector, modelId, IModelMarket.ModelStatus.Delisted)
        );
        market.requestJob(_req(modelId, 1));
        vm.prank(operator);
        market.submitResult(jobId, RESULT);
        vm.prank(seller);
        vm.expectRevert(
            abi.encodeWithSelector(IModelMarket.BadModelStatus.selector, modelId, IModelMarket.ModelStatus.Delisted)
        );
        market.delistModel(modelId);
    }

    function test_quote() public view {
        assertEq(market.quote(modelId, 7), 7 * uint256(PRICE + OP_FEE));
    }

    function test_keys() public {
        bytes32 k = keccak256("k2");
        vm.expectEmit(true, true, false, true, address(market));
        emit IModelMarket.KeyRegistered(k, stranger, 4);
        vm.prank(stranger);
        market.registerKey(k, 4);
        (bool registered, bool revoked, uint16 p) = market.getKey(stranger, k);
        assertTrue(registered);
        assertFalse(revoked);
        assertEq(p, 4);

        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.KeyAlreadyRegistered.selector, k));
        market.registerKey(k, 4);
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.KeyAlreadyRegistered.selector, bytes32(0)));
        market.registerKey(bytes32(0), 4);

        vm.prank(buyer);
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.NotKeyOwner.selector, k));
        market.revokeKey(k);

        vm.expectEmit(true, true, false, false, address(market));
        emit IModelMarket.KeyRevoked(k, stranger);
        vm.prank(stranger);
        market.revokeKey(k);
        (registered, revoked,) = market.getKey(stranger, k);
        assertFalse(registered);
        assertTrue(revoked);
        // the caller cannot bring a revoked key back
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.KeyAlreadyRegistered.selector, k));
        market.registerKey(k, 4);
    }

    /// @notice Attack: a stranger registers the buyer's key hash first (it is public once the
    ///         buyer uploads it). Registrations are per buyer, so the buyer still registers and uses it.
    function test_keyFrontRunDoesNotLockOutBuyer() public {
        bytes32 k = keccak256("buyer's next key");
        vm.prank(stranger);
        market.registerKey(k, PARAMS);
        vm.prank(buyer);
        market.registerKey(k, PARAMS);
        (bool registered,,) = market.getKey(buyer, k);
        assertTrue(registered);
        IModelMarket.JobRequest memory r = _req(modelId, 1);
        r.keyHash = k;
        vm.prank(buyer);
        market.requestJob(r);
        // and the stranger cannot revoke it for the buyer
        vm.prank(stranger);
        market.revokeKey(k);
        (registered,,) = market.getKey(buyer, k);
        assertTrue(registered);
    }

    /// @notice A stranger cannot request jobs with a key only the buyer registered.
    function testRevert_request_othersKey() public {
        IModelMarket.JobRequest memory r = _req(modelId, 1);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.NotKeyOwner.selector, KEY));
        market.requestJob(r);
    }

    function testRevert_request_revokedKey() public {
        vm.prank(buyer);
        market.revokeKey(KEY);
        vm.prank(buyer);
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.NotKeyOwner.selector, KEY));
        market.requestJob(_req(modelId, 1));
    }
}
