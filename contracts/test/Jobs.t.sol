// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Base} from "./Base.t.sol";
import {IModelMarket} from "../src/IModelMarket.sol";
import {MarketBase} from "../src/MarketBase.sol";
import {FeeOnTransferToken, RejectsNative, Reenterer} from "./utils/Mocks.sol";

contract JobsTest is Base {
    function test_requestErc20_escrowsAndEmits() public {
        uint256 bal = usd.balanceOf(buyer);
        vm.warp(5000);
        vm.expectEmit(true, true, true, true, address(market));
        emit IModelMarket.JobRequested(
            1,
            buyer,
            operator,
            modelId,
            address(usd),
            INPUT,
            KEY,
            3,
            3 * uint256(PRICE),
            3 * uint256(OP_FEE),
            5000 + DEADLINE
        );
        uint256 jobId = _requestUsd(3);
        assertEq(jobId, 1);
        assertEq(usd.balanceOf(buyer), bal - 3 * uint256(PRICE + OP_FEE));
        assertEq(usd.balanceOf(address(market)), 3 * uint256(PRICE + OP_FEE));
        MarketBase.Job memory j = market.getJob(jobId);
        assertEq(j.buyer, buyer);
        assertEq(j.rows, 3);
        assertEq(j.deadline, 5000 + DEADLINE);
        assertEq(j.feeBps, FEE_BPS);
        assertEq(j.modelId, modelId);
        assertTrue(j.status == IModelMarket.JobStatus.Requested);
        assertEq(market.nextJobId(), 2);
    }

    function test_requestWithPermit() public {
        vm.prank(buyer);
        usd.approve(address(market), 0);
        uint256 total = 2 * uint256(PRICE + OP_FEE);
        (uint8 v, bytes32 r, bytes32 s) = _permitSig(address(usd), total, block.timestamp + 1 hours);
        vm.prank(buyer);
        uint256 jobId = market.requestJobWithPermit(_req(modelId, 2), block.timestamp + 1 hours, v, r, s);
        assertEq(usd.balanceOf(address(market)), total);
        assertEq(usd.allowance(buyer, address(market)), 0);
        assertTrue(market.getJob(jobId).status == IModelMarket.JobStatus.Requested);
    }

    function test_requestWithPermit_frontRunPermitStillWorks() public {
        vm.prank(buyer);
        usd.approve(address(market), 0);
        uint256 total = uint256(PRICE + OP_FEE);
        (uint8 v, bytes32 r, bytes32 s) = _permitSig(address(usd), total, block.timestamp + 1 hours);
        // someone submits the permit first
        usd.permit(buyer, address(market), total, block.timestamp + 1 hours, v, r, s);
        vm.prank(buyer);
        market.requestJobWithPermit(_req(modelId, 1), block.timestamp + 1 hours, v, r, s);
        assertEq(usd.balanceOf(address(market)), total);
    }

    function testRevert_requestWithPermit_badSignatureNoAllowance() public {
        vm.prank(buyer);
        usd.approve(address(market), 0);
        vm.prank(buyer);
        vm.expectRevert();
        market.requestJobWithPermit(_req(modelId, 1), block.timestamp + 1 hours, 27, bytes32(0), bytes32(0));
    }

    function test_requestWithPermit_nativeModelIgnoresPermit() public {
        // permit path on a native model cannot carry value: it fails on the value check
        vm.prank(buyer);
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.BadNativeValue.selector, 0));
        market.requestJobWithPermit(_req(nativeModelId, 1), 0, 0, 0, 0);
    }

    function test_requestNative_excessCredited() public {
        uint256 total = uint256(PRICE + OP_FEE);
        IModelMarket.JobRequest memory r = _req(nativeModelId, 1);
        r.maxTotalPrice = total + 5;
        vm.prank(buyer);
        market.requestJob{value: total + 5}(r);
        assertEq(market.balanceOf(buyer, address(0)), 5);
        assertEq(address(market).balance, 2 ether + total + 5);
    }

    function testRevert_requestNative_badValue() public {
        uint256 total = uint256(PRICE + OP_FEE);
        vm.startPrank(buyer);
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.BadNativeValue.selector, total - 1));
        market.requestJob{value: total - 1}(_req(nativeModelId, 1));
        // more than the stated maximum
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.BadNativeValue.selector, total + 1));
        market.requestJob{value: total + 1}(_req(nativeModelId, 1));
        // native coin with an ERC-20 model
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.BadNativeValue.selector, 1));
        market.requestJob{value: 1}(_req(modelId, 1));
        vm.stopPrank();
    }

    function testRevert_request_validation() public {
        vm.startPrank(buyer);
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.InvalidRows.selector, 0, MAX_ROWS));
        market.requestJob(_req(modelId, 0));
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.InvalidRows.selector, MAX_ROWS + 1, MAX_ROWS));
        market.requestJob(_req(modelId, MAX_ROWS + 1));
        IModelMarket.JobRequest memory r = _req(modelId, 1);
        r.inputHash = 0;
        vm.expectRevert(IModelMarket.InvalidInputHash.selector);
        market.requestJob(r);
        r = _req(modelId, 1);
        r.keyHash = keccak256("nope");
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.NotKeyOwner.selector, r.keyHash));
        market.requestJob(r);
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.BadModelStatus.selector, 42, IModelMarket.ModelStatus.None));
        market.requestJob(_req(42, 1));
        bytes32 k2 = keccak256("params-9 key");
        market.registerKey(k2, 9);
        r = _req(modelId, 1);
        r.keyHash = k2;
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.KeyParamsMismatch.selector, 9, PARAMS));
        market.requestJob(r);
        vm.stopPrank();
    }

    function testRevert_request_amountTooLarge() public {
        vm.prank(seller);
        market.repriceModel(modelId, type(uint96).max);
        IModelMarket.JobRequest memory r = _req(modelId, 2);
        r.maxTotalPrice = type(uint256).max;
        uint256 total = 2 * (uint256(type(uint96).max) + OP_FEE);
        vm.prank(buyer);
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.AmountTooLarge.selector, total));
        market.requestJob(r);
    }

    function testRevert_request_feeOnTransferToken() public {
        FeeOnTransferToken fot = new FeeOnTransferToken();
        vm.prank(owner);
        market.setTokenAllowed(address(fot), true);
        uint256 id = _listAndAccept(address(fot));
        fot.mint(buyer, 1e30);
        vm.startPrank(buyer);
        fot.approve(address(market), type(uint256).max);
        uint256 total = uint256(PRICE + OP_FEE);
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.TransferShortfall.selector, total, total - total / 100));
        market.requestJob(_req(id, 1));
        vm.stopPrank();
    }

    function test_submit_paysEveryone() public {
        uint256 jobId = _requestUsd(4);
        uint256 sg = 4 * uint256(PRICE);
        uint256 og = 4 * uint256(OP_FEE);
        uint256 sf = sg * FEE_BPS / 10_000;
        uint256 opf = og * FEE_BPS / 10_000;
        vm.expectEmit(true, true, false, true, address(market));
        emit IModelMarket.JobCompleted(jobId, operator, RESULT, sg - sf, og - opf, sf + opf);
        vm.prank(operator);
        market.submitResult(jobId, RESULT);
        assertEq(market.balanceOf(seller, address(usd)), sg - sf);
        assertEq(market.balanceOf(operator, address(usd)), og - opf);
        assertEq(market.balanceOf(treasury, address(usd)), sf + opf);
        assertTrue(market.getJob(jobId).status == IModelMarket.JobStatus.Completed);

        uint256[3] memory expect = [sg - sf, og - opf, sf + opf];
        address[3] memory who = [seller, operator, treasury];
        for (uint256 i; i < 3; i++) {
            vm.prank(who[i]);
            vm.expectEmit(true, true, false, true, address(market));
            emit IModelMarket.Withdrawn(who[i], address(usd), expect[i]);
            market.withdraw(address(usd));
            assertEq(usd.balanceOf(who[i]), expect[i]);
        }
        assertEq(usd.balanceOf(address(market)), 0);
    }

    function test_submit_zeroFeeSkipsTreasury() public {
        vm.prank(owner);
        market.setProtocolFee(0, treasury);
        uint256 jobId = _requestUsd(1);
        vm.prank(operator);
        market.submitResult(jobId, RESULT);
        assertEq(market.balanceOf(treasury, address(usd)), 0);
        assertEq(market.balanceOf(seller, address(usd)), PRICE);
    }

    function testRevert_submit() public {
        uint256 jobId = _requestUsd(1);
        vm.prank(operator);
        vm.expectRevert(IModelMarket.InvalidResultHash.selector);
        market.submitResult(jobId, 0);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.NotJobOperator.selector, jobId));
        market.submitResult(jobId, RESULT);
        vm.prank(operator);
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.UnknownJob.selector, 99));
        market.submitResult(99, RESULT);
        uint256 deadline = market.getJob(jobId).deadline;
        vm.warp(deadline + 1);
        vm.prank(operator);
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.DeadlinePassed.selector, jobId, deadline));
        market.submitResult(jobId, RESULT);
    }

    function testRevert_settleTwice() public {
        uint256 jobId = _requestUsd(1);
        vm.startPrank(operator);
        market.submitResult(jobId, RESULT);
        vm.expectRevert(
            abi.encodeWithSelector(IModelMarket.JobNotPending.selector, jobId, IModelMarket.JobStatus.Completed)
        );
        market.submitResult(jobId, RESULT);
        vm.expectRevert(
            abi.encodeWithSelector(IModelMarket.JobNotPending.selector, jobId, IModelMarket.JobStatus.Completed)
        );
        market.rejectJob(jobId, 1);
        vm.stopPrank();
        vm.warp(block.timestamp + DEADLINE + 1);
        vm.expectRevert(
            abi.encodeWithSelector(IModelMarket.JobNotPending.selector, jobId, IModelMarket.JobStatus.Completed)
        );
        market.refundExpired(jobId);
    }

    function test_reject_refundsInFull() public {
        uint256 jobId = _requestNative(2);
        uint256 total = 2 * uint256(PRICE + OP_FEE);
        vm.expectEmit(true, true, false, true, address(market));
        emit IModelMarket.JobRejected(jobId, operator, 7, total);
        vm.prank(operator);
        market.rejectJob(jobId, 7);
        assertEq(market.balanceOf(buyer, address(0)), total);
        assertTrue(market.getJob(jobId).status == IModelMarket.JobStatus.Rejected);
        uint256 before = buyer.balance;
        vm.prank(buyer);
        market.withdraw(address(0));
        assertEq(buyer.balance, before + total);
    }

    function testRevert_reject() public {
        uint256 jobId = _requestUsd(1);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.NotJobOperator.selector, jobId));
        market.rejectJob(jobId, 1);
    }

    function test_expired_refundsAndSlashes() public {
        uint256 jobId = _requestUsd(2);
        uint256 total = 2 * uint256(PRICE + OP_FEE);
        uint256 deadline = market.getJob(jobId).deadline;
        vm.warp(deadline);
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.DeadlineNotReached.selector, jobId, deadline));
        market.refundExpired(jobId);
        vm.warp(deadline + 1);
        vm.expectEmit(true, true, true, true, address(market));
        emit IModelMarket.OperatorSlashed(operator, jobId, buyer, PENALTY, 2 ether - PENALTY);
        vm.expectEmit(true, true, false, true, address(market));
        emit IModelMarket.JobExpired(jobId, stranger, total, PENALTY);
        vm.prank(stranger);
        market.refundExpired(jobId);
        // the buyer gets its escrow back, nothing more; the slash is burned
        assertEq(market.balanceOf(buyer, address(usd)), total);
        assertEq(market.balanceOf(buyer, address(0)), 0);
        assertEq(market.balanceOf(treasury, address(0)), 0);
        assertEq(market.BURN_ADDRESS().balance, PENALTY);
        (, uint256 stake,,,) = market.getOperator(operator);
        assertEq(stake, 2 ether - PENALTY);
        assertTrue(market.getJob(jobId).status == IModelMarket.JobStatus.Expired);
    }

    /// @notice A native-coin job: the slash is at most what the job escrowed (tied to the job),
    ///         and burned; the buyer gets back exactly what it paid.
    function test_expired_native_slashTiedToEscrow() public {
        uint256 jobId = _requestNative(3);
        uint256 total = 3 * uint256(PRICE + OP_FEE);
        vm.warp(block.timestamp + DEADLINE + 1);
        vm.expectEmit(true, true, false, true, address(market));
        emit IModelMarket.JobExpired(jobId, address(this), total, total);
        market.refundExpired(jobId);
        assertEq(market.balanceOf(buyer, address(0)), total);
        assertEq(market.BURN_ADDRESS().balance, total);
        (, uint256 stake,,,) = market.getOperator(operator);
        assertEq(stake, 2 ether - total);
    }

    function testRevert_withdraw() public {
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.NothingToWithdraw.selector, address(usd)));
        market.withdraw(address(usd));
    }

    function testRevert_withdraw_nativeRefused() public {
        RejectsNative r = new RejectsNative();
        vm.deal(address(r), 10 ether);
        r.exec{value: 0}(address(market), abi.encodeCall(market.registerKey, (keccak256("rk"), PARAMS)));
        IModelMarket.JobRequest memory q = _req(nativeModelId, 1);
        q.keyHash = keccak256("rk");
        q.maxTotalPrice += 1;
        vm.deal(address(this), 1 ether);
        r.exec{value: PRICE + OP_FEE + 1}(address(market), abi.encodeCall(market.requestJob, (q)));
        assertEq(market.balanceOf(address(r), address(0)), 1);
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.NativeTransferFailed.selector, address(r), 1));
        r.exec(address(market), abi.encodeCall(market.withdraw, (address(0))));
        assertEq(market.balanceOf(address(r), address(0)), 1);
    }

    function test_withdraw_reentrancyBlocked() public {
        Reenterer a = new Reenterer();
        vm.deal(address(this), 1 ether);
        a.exec(address(market), abi.encodeCall(market.registerKey, (keccak256("re"), PARAMS)));
        IModelMarket.JobRequest memory q = _req(nativeModelId, 1);
        q.keyHash = keccak256("re");
        q.maxTotalPrice += 1;
        a.exec{value: PRICE + OP_FEE + 1}(address(market), abi.encodeCall(market.requestJob, (q)));
        a.arm(address(market), abi.encodeCall(market.withdraw, (address(0))));
        a.exec(address(market), abi.encodeCall(market.withdraw, (address(0))));
        assertTrue(a.reentered());
        assertEq(bytes4(a.reason()), bytes4(keccak256("ReentrancyGuardReentrantCall()")));
        assertEq(address(a).balance, 1);
    }

    // ------------------------------------------------------------ fuzz

    function testFuzz_request_pricesAndRows(uint96 price, uint96 fee, uint32 rows, uint256 slack) public {
        price = uint96(bound(price, 0, 1e24));
        fee = uint96(bound(fee, 0, 1e24));
        rows = uint32(bound(rows, 1, MAX_ROWS));
        slack = bound(slack, 0, 1e18);
        vm.prank(seller);
        market.repriceModel(modelId, price);
        IModelMarket.Listing memory l = _listing(address(usd));
        l.pricePerRow = price;
        l.operatorFeePerRow = fee;
        vm.prank(seller);
        uint256 id = market.listModel(l);
        vm.prank(operator);
        market.acceptModel(id);
        uint256 total = uint256(rows) * (uint256(price) + fee);
        usd.mint(buyer, total);
        uint256 before = usd.balanceOf(buyer);
        IModelMarket.JobRequest memory r = _req(id, rows);
        r.maxTotalPrice = total + slack;
        vm.prank(buyer);
        uint256 jobId = market.requestJob(r);
        assertEq(usd.balanceOf(buyer), before - total, "escrow is exactly the current price");
        vm.prank(operator);
        market.submitResult(jobId, RESULT);
        uint256 paid = market.balanceOf(seller, address(usd)) + market.balanceOf(operator, address(usd))
            + market.balanceOf(treasury, address(usd));
        assertEq(paid, total, "settlement distributes the whole escrow");
    }

    function testFuzz_request_maxPriceEnforced(uint256 maxTotal, uint32 rows) public {
        rows = uint32(bound(rows, 1, MAX_ROWS));
        uint256 total = uint256(rows) * (PRICE + OP_FEE);
        maxTotal = bound(maxTotal, 0, total - 1);
        IModelMarket.JobRequest memory r = _req(modelId, rows);
        r.maxTotalPrice = maxTotal;
        vm.prank(buyer);
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.PriceAboveMax.selector, total, maxTotal));
        market.requestJob(r);
    }

    function testFuzz_deadlines(uint32 deadline, uint256 after_) public {
        deadline = uint32(bound(deadline, market.MIN_JOB_DEADLINE(), MAX_DEADLINE));
        after_ = bound(after_, 0, 2 * uint256(MAX_DEADLINE));
        IModelMarket.Listing memory l = _listing(address(0));
        l.jobDeadline = deadline;
        vm.prank(seller);
        uint256 id = market.listModel(l);
        vm.prank(operator);
        market.acceptModel(id);
        vm.prank(buyer);
        uint256 jobId = market.requestJob{value: PRICE + OP_FEE}(_req(id, 1));
        vm.warp(block.timestamp + after_);
        if (after_ <= deadline) {
            vm.prank(operator);
            market.submitResult(jobId, RESULT);
            assertTrue(market.getJob(jobId).status == IModelMarket.JobStatus.Completed);
        } else {
            vm.prank(operator);
            vm.expectRevert();
            market.submitResult(jobId, RESULT);
            market.refundExpired(jobId);
            assertTrue(market.getJob(jobId).status == IModelMarket.JobStatus.Expired);
        }
    }

    function testFuzz_feeSplit(uint16 bps, uint96 price, uint32 rows) public {
        bps = uint16(bound(bps, 0, market.MAX_FEE_BPS()));
        price = uint96(bound(price, 1, 1e20));
        rows = uint32(bound(rows, 1, MAX_ROWS));
        vm.prank(owner);
        market.setProtocolFee(bps, treasury);
        vm.prank(seller);
        market.repriceModel(modelId, price);
        IModelMarket.JobRequest memory r = _req(modelId, rows);
        r.maxTotalPrice = type(uint256).max;
        usd.mint(buyer, uint256(rows) * (uint256(price) + OP_FEE));
        vm.prank(buyer);
        uint256 jobId = market.requestJob(r);
        vm.prank(operator);
        market.submitResult(jobId, RESULT);
        uint256 fee = market.balanceOf(treasury, address(usd));
        uint256 total = uint256(rows) * (uint256(price) + OP_FEE);
        assertLe(fee, total * bps / 10_000, "fee never above the rate");
        assertEq(
            market.balanceOf(seller, address(usd)) + market.balanceOf(operator, address(usd)) + fee, total, "conserved"
        );
    }
}
