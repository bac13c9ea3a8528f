// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Test, Vm} from "./utils/Test.sol";
import {ModelMarket} from "../src/ModelMarket.sol";
import {IModelMarket} from "../src/IModelMarket.sol";
import {TestToken} from "../src/mocks/TestToken.sol";

/// @notice Drives the market through random sequences of requests, settlements, expiries,
///         withdrawals and operator actions, keeping ghost books to check against. One actor is
///         an attacker: it lists copies naming the honest operators at terms of its choosing,
///         buys from its own listings and lets jobs expire.
contract Handler is Test {
    ModelMarket public market;
    TestToken public usd;
    address[] public actors;
    address[] public operators;
    uint256[] public models;
    uint256[] public pendingJobs;

    mapping(address => uint256) public escrow; // token => escrowed in pending jobs
    mapping(uint256 => uint256) public settleCount; // jobId => successful settlements
    mapping(address => mapping(address => uint256)) public credited; // account => token => credited
    mapping(address => mapping(address => uint256)) public withdrawn; // account => token => received
    uint256 public maxSettleCount;
    uint256 public jobsRequested;

    address public attacker = vm.addr(666);
    uint256[] public attackerModels;
    mapping(address => uint256) public attackerPaid; // token => escrow the attacker put in
    uint256 public listingsOutsideTerms; // attacker listings the chain accepted against the terms
    uint256 public slashedTotal; // stake taken by expiries

    uint96 public constant MIN_FEE = 2e5;
    uint32 public constant MIN_DEADLINE = 30 minutes;
    uint32 public constant ROWS_PER_JOB = 50;
    uint32 public constant ROWS_PER_HOUR = 400;

    bytes32 internal constant CREDITED = keccak256("Credited(address,address,uint256,uint256)");

    constructor(ModelMarket market_, TestToken usd_) {
        market = market_;
        usd = usd_;
        for (uint256 i; i < 3; i++) {
            address a = vm.addr(1000 + i);
            actors.push(a);
            vm.deal(a, 1_000 ether);
            usd.mint(a, 1e30);
            vm.startPrank(a);
            usd.approve(address(market), type(uint256).max);
            market.registerKey(keccak256(abi.encode("key", a)), 1);
            vm.stopPrank();
        }
        vm.deal(attacker, 1_000 ether);
        usd.mint(attacker, 1e30);
        vm.startPrank(attacker);
        usd.approve(address(market), type(uint256).max);
        market.registerKey(keccak256(abi.encode("key", attacker)), 1);
        vm.stopPrank();
        for (uint256 i; i < 2; i++) {
            address o = vm.addr(2000 + i);
            operators.push(o);
            vm.deal(o, 1_000 ether);
            vm.startPrank(o);
            market.registerOperator{value: 10 ether}("http://op", bytes32(uint256(1)));
            market.setOperatorTerms(
                IModelMarket.OperatorTerms({
                    minFeePerRow: MIN_FEE,
                    minJobDeadline: MIN_DEADLINE,
                    maxRowsPerJob: ROWS_PER_JOB,
                    maxRowsPerHour: ROWS_PER_HOUR
                })
            );
            vm.stopPrank();
            for (uint256 t; t < 2; t++) {
                address token = t == 0 ? address(usd) : address(0);
                IModelMarket.Listing memory l = IModelMarket.Listing({
                    operator: o,
                    token: token,
                    // forge-lint: disable-next-line(unsafe-typecast) -- small bounded values
                    pricePerRow: uint96(1e6 + i * 333),
                    // forge-lint: disable-next-line(unsafe-typecast) -- small bounded values
                    operatorFeePerRow: uint96(2e5 + t * 7),
                    cardHash: bytes32(uint256(1)),
                    sealedModelHash: bytes32(uint256(2)),
                    paramSet: 1,
                    maxRows: 50,
                    jobDeadline: 1 hours,
                    outputMode: 0
                });
                vm.prank(actors[i]);
                uint256 id = market.listModel(l);
                vm.prank(o);
                market.acceptModel(id);
                models.push(id);
            }
        }
    }

    // ------------------------------------------------------------ the attacker

    /// @dev List a copy naming an honest operator at whatever terms; the operator accepts
    ///      whatever the chain lets through (the worst case for it).
    function attackList(uint256 opSeed, uint96 fee, uint32 deadline, uint32 rows, bool native) external {
        address o = operators[opSeed % operators.length];
        IModelMarket.Listing memory l = IModelMarket.Listing({
            operator: o,
            token: native ? address(0) : address(usd),
            pricePerRow: 0,
            operatorFeePerRow: uint96(bound(fee, 0, 2 * MIN_FEE)),
            cardHash: bytes32(uint256(1)),
            sealedModelHash: bytes32(uint256(2)),
            paramSet: 1,
            maxRows: uint32(bound(rows, 1, 2 * ROWS_PER_JOB)),
            jobDeadline: uint32(bound(deadline, 1, 2 * MIN_DEADLINE)),
            outputMode: 0
        });
        vm.prank(attacker);
        try market.listModel(l) returns (uint256 id) {
            if (l.operatorFeePerRow < MIN_FEE || l.jobDeadline < MIN_DEADLINE || l.maxRows > ROWS_PER_JOB) {
                listingsOutsideTerms++;
            }
            vm.prank(o);
            market.acceptModel(id);
            attackerModels.push(id);
        } catch {}
    }

    /// @dev Buy from one of the attacker's own listings (the jobs are settled, rejected or left to
    ///      expire by the other actions).
    function attackRequest(uint256 modelSeed, uint32 rows) external {
        if (attackerModels.length == 0) return;
        uint256 id = attackerModels[modelSeed % attackerModels.length];
        ModelMarket.Model memory m = market.getModel(id);
        rows = uint32(bound(rows, 1, m.maxRows));
        uint256 total = market.quote(id, rows);
        IModelMarket.JobRequest memory r = IModelMarket.JobRequest({
            // forge-lint: disable-next-line(unsafe-typecast) -- small bounded values
            modelId: uint64(id),
            inputHash: bytes32(uint256(3)),
            keyHash: keccak256(abi.encode("key", attacker)),
            rows: rows,
            maxTotalPrice: total
        });
        vm.recordLogs();
        vm.prank(attacker);
        try market.requestJob{value: m.token == address(0) ? total : 0}(r) returns (uint256 jobId) {
            escrow[m.token] += total;
            attackerPaid[m.token] += total;
            pendingJobs.push(jobId);
            jobsRequested++;
        } catch {}
        _collectCredits();
    }

    function actorCount() external view returns (uint256) {
        return actors.length;
    }

    function operatorCount() external view returns (uint256) {
        return operators.length;
    }

    // ------------------------------------------------------------ actions

    function request(uint256 actorSeed, uint256 modelSeed, uint32 rows) external {
        address a = actors[actorSeed % actors.length];
        uint256 id = models[modelSeed % models.length];
        rows = uint32(bound(rows, 1, 50));
        uint256 total = market.quote(id, rows);
        IModelMarket.JobRequest memory r = IModelMarket.JobRequest({
            // forge-lint: disable-next-line(unsafe-typecast) -- small bounded values
            modelId: uint64(id),
            inputHash: bytes32(uint256(3)),
            keyHash: keccak256(abi.encode("key", a)),
            rows: rows,
            maxTotalPrice: total
        });
        address token = market.getModel(id).token;
        vm.recordLogs();
        vm.prank(a);
        uint256 jobId = market.requestJob{value: token == address(0) ? total : 0}(r);
        _collectCredits();
        escrow[token] += total;
        pendingJobs.push(jobId);
        jobsRequested++;
    }

    function submit(uint256 seed) external {
        (bool some, uint256 idx, uint256 jobId) = _pick(seed);
        if (!some) return;
        address op = market.getModel(market.getJob(jobId).modelId).operator;
        vm.recordLogs();
        vm.prank(op);
        try market.submitResult(jobId, bytes32(uint256(4))) {
            _settled(idx, jobId);
        } catch {}
        _collectCredits();
    }

    function reject(uint256 seed, uint16 reason) external {
        (bool some, uint256 idx, uint256 jobId) = _pick(seed);
        if (!some) return;
        address op = market.getModel(market.getJob(jobId).modelId).operator;
        vm.recordLogs();
        vm.prank(op);
        try market.rejectJob(jobId, reason) {
            _settled(idx, jobId);
        } catch {}
        _collectCredits();
    }

    function expire(uint256 seed) external {
        (bool some, uint256 idx, uint256 jobId) = _pick(seed);
        if (!some) return;
        vm.warp(uint256(market.getJob(jobId).deadline) + 1);
        uint256 before = this.totalStake();
        vm.recordLogs();
        try market.refundExpired(jobId) {
            _settled(idx, jobId);
            slashedTotal += before - this.totalStake();
        } catch {}
        _collectCredits();
    }

    /// @dev Try to settle a job that has already ended: must always fail.
    function settleAgain(uint256 jobSeed) external {
        uint256 n = market.nextJobId();
        if (n == 1) return;
        uint256 jobId = 1 + jobSeed % (n - 1);
        if (market.getJob(jobId).status == IModelMarket.JobStatus.Requested) return;
        address op = market.getModel(market.getJob(jobId).modelId).operator;
        vm.prank(op);
        try market.submitResult(jobId, bytes32(uint256(4))) {
            settleCount[jobId]++;
        } catch {}
        try market.refundExpired(jobId) {
            settleCount[jobId]++;
        } catch {}
        if (settleCount[jobId] > maxSettleCount) maxSettleCount = settleCount[jobId];
    }

    function withdraw(uint256 seed, bool native) external {
        address[] memory all = _everyone();
        address who = all[seed % all.length];
        address token = native ? address(0) : address(usd);
        uint256 before = native ? who.balance : usd.balanceOf(who);
        vm.prank(who);
        try market.withdraw(token) {
            uint256 afterB = native ? who.balance : usd.balanceOf(who);
            withdrawn[who][token] += afterB - before;
        } catch {}
    }

    function addStake(uint256 seed, uint256 amount) external {
        address o = operators[seed % operators.length];
        amount = bound(amount, 1, 5 ether);
        vm.prank(o);
        market.addStake{value: amount}();
    }

    function reprice(uint256 seed, uint96 price) external {
        uint256 i = seed % models.length;
        uint256 id = models[i];
        price = uint96(bound(price, 0, 1e9));
        vm.prank(market.getModel(id).seller);
        market.repriceModel(id, price);
    }

    function warp(uint256 secs) external {
        vm.warp(block.timestamp + bound(secs, 0, 2 hours));
    }

    // ------------------------------------------------------------ views for invariants

    function everyone() external view returns (address[] memory) {
        return _everyone();
    }

    function totalStake() external view returns (uint256 sum) {
        for (uint256 i; i < operators.length; i++) {
            (, uint256 stake,,,) = market.getOperator(operators[i]);
            sum += stake;
        }
    }

    // ------------------------------------------------------------ internal

    function _everyone() internal view returns (address[] memory all) {
        (, address treasury) = market.protocolFee();
        all = new address[](actors.length + operators.length + 2);
        all[all.length - 2] = attacker;
        for (uint256 i; i < actors.length; i++) {
            all[i] = actors[i];
        }
        for (uint256 i; i < operators.length; i++) {
            all[actors.length + i] = operators[i];
        }
        all[all.length - 1] = treasury;
    }

    function _pick(uint256 seed) internal view returns (bool, uint256, uint256) {
        if (pendingJobs.length == 0) return (false, 0, 0);
        uint256 idx = seed % pendingJobs.length;
        return (true, idx, pendingJobs[idx]);
    }

    function _settled(uint256 idx, uint256 jobId) internal {
        ModelMarket.Job memory j = market.getJob(jobId);
        escrow[market.getModel(j.modelId).token] -= uint256(j.sellerAmount) + j.operatorAmount;
        settleCount[jobId]++;
        if (settleCount[jobId] > maxSettleCount) maxSettleCount = settleCount[jobId];
        pendingJobs[idx] = pendingJobs[pendingJobs.length - 1];
        pendingJobs.pop();
    }

    function _collectCredits() internal {
        Vm.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 i; i < logs.length; i++) {
            if (logs[i].emitter == address(market) && logs[i].topics[0] == CREDITED) {
                address account = address(uint160(uint256(logs[i].topics[1])));
                address token = address(uint160(uint256(logs[i].topics[2])));
                credited[account][token] += abi.decode(logs[i].data, (uint256));
            }
        }
    }
}

contract InvariantTest is Test {
    ModelMarket internal market;
    TestToken internal usd;
    Handler internal handler;

    function setUp() public {
        address owner = vm.addr(1);
        market = new ModelMarket(owner, vm.addr(2), 250, 1 ether, 0.3 ether, 8 days, 7 days);
        usd = new TestToken("USD", "USD");
        vm.prank(owner);
        market.setTokenAllowed(address(usd), true);
        handler = new Handler(market, usd);
        targetContract(address(handler));
        bytes4[] memory sel = new bytes4[](11);
        sel[0] = Handler.request.selector;
        sel[1] = Handler.submit.selector;
        sel[2] = Handler.reject.selector;
        sel[3] = Handler.expire.selector;
        sel[4] = Handler.settleAgain.selector;
        sel[5] = Handler.withdraw.selector;
        sel[6] = Handler.addStake.selector;
        sel[7] = Handler.reprice.selector;
        sel[8] = Handler.warp.selector;
        sel[9] = Handler.attackList.selector;
        sel[10] = Handler.attackRequest.selector;
        targetSelector(FuzzSelector({addr: address(handler), selectors: sel}));
    }

    function _withdrawable(address token) internal view returns (uint256 sum) {
        address[] memory all = handler.everyone();
        for (uint256 i; i < all.length; i++) {
            sum += market.balanceOf(all[i], token);
        }
    }

    /// @notice Per-token solvency: balance == escrow + withdrawable (+ stakes for the native coin).
    function invariant_solvency() public view {
        assertEq(usd.balanceOf(address(market)), handler.escrow(address(usd)) + _withdrawable(address(usd)), "usd");
        assertEq(
            address(market).balance,
            handler.escrow(address(0)) + _withdrawable(address(0)) + handler.totalStake(),
            "native"
        );
        assertEq(market.BURN_ADDRESS().balance, handler.slashedTotal(), "burned == slashed");
    }

    /// @notice No job settles more than once.
    function invariant_settlesAtMostOnce() public view {
        assertLe(handler.maxSettleCount(), 1, "settlements per job");
    }

    /// @notice Nobody withdraws more than was credited, and what is left equals the difference.
    function invariant_withdrawalsBoundedByCredits() public view {
        address[] memory all = handler.everyone();
        address[2] memory tokens = [address(usd), address(0)];
        for (uint256 i; i < all.length; i++) {
            for (uint256 t; t < 2; t++) {
                uint256 c = handler.credited(all[i], tokens[t]);
                uint256 w = handler.withdrawn(all[i], tokens[t]);
                assertLe(w, c, "withdrawn <= credited");
                assertEq(market.balanceOf(all[i], tokens[t]), c - w, "balance == credited - withdrawn");
            }
        }
    }

    /// @notice The attacker never gets back more than it paid, in any token: refunds and its own
    ///         seller share only; slashes are burned, never paid to anyone.
    function invariant_attackerNeverProfits() public view {
        address a = handler.attacker();
        assertLe(handler.credited(a, address(usd)), handler.attackerPaid(address(usd)), "usd");
        assertLe(handler.credited(a, address(0)), handler.attackerPaid(address(0)), "native");
    }

    /// @notice No listing outside its operator's terms, and no operator above its hourly capacity.
    function invariant_operatorTermsHold() public view {
        assertEq(handler.listingsOutsideTerms(), 0, "listing outside terms");
        for (uint256 i; i < handler.operatorCount(); i++) {
            (IModelMarket.OperatorTerms memory t, uint256 used) = market.getOperatorTerms(handler.operators(i));
            assertLe(used, t.maxRowsPerHour, "capacity");
        }
    }
}
