// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Base} from "./Base.t.sol";
import {IModelMarket} from "../src/IModelMarket.sol";
import {ModelMarket} from "../src/ModelMarket.sol";

contract OperatorsTest is Base {
    address internal op2 = makeAddr("op2");

    function setUp() public override {
        super.setUp();
        vm.deal(op2, 100 ether);
    }

    function test_register_storesAndEmits() public {
        vm.expectEmit(true, false, false, true, address(market));
        emit IModelMarket.OperatorRegistered(op2, "https://op2.example", X25519, 1.5 ether);
        vm.prank(op2);
        market.registerOperator{value: 1.5 ether}("https://op2.example", X25519);
        (IModelMarket.OperatorStatus st, uint256 stake, uint256 unlockAt, bytes32 key, string memory ep) =
            market.getOperator(op2);
        assertTrue(st == IModelMarket.OperatorStatus.Active);
        assertEq(stake, 1.5 ether);
        assertEq(unlockAt, 0);
        assertEq(key, X25519);
        assertEq(ep, "https://op2.example");
        assertEq(address(market).balance, 2 ether + 1.5 ether);
    }

    function testRevert_register_twice() public {
        vm.prank(operator);
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.OperatorAlreadyRegistered.selector, operator));
        market.registerOperator{value: 1 ether}("x", X25519);
    }

    function testRevert_register_lowStake() public {
        vm.prank(op2);
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.StakeTooLow.selector, 0.5 ether, MIN_STAKE));
        market.registerOperator{value: 0.5 ether}("x", X25519);
    }

    function testRevert_register_hugeStake() public {
        uint256 huge = uint256(type(uint96).max) + 1;
        vm.deal(op2, huge);
        vm.prank(op2);
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.AmountTooLarge.selector, huge));
        market.registerOperator{value: huge}("x", X25519);
    }

    function testRevert_register_badEndpoint() public {
        vm.startPrank(op2);
        vm.expectRevert(IModelMarket.InvalidEndpoint.selector);
        market.registerOperator{value: 1 ether}("", X25519);
        bytes memory long = new bytes(257);
        vm.expectRevert(IModelMarket.InvalidEndpoint.selector);
        market.registerOperator{value: 1 ether}(string(long), X25519);
        vm.expectRevert(IModelMarket.InvalidX25519Key.selector);
        market.registerOperator{value: 1 ether}("x", bytes32(0));
        vm.stopPrank();
    }

    function test_update() public {
        vm.expectEmit(true, false, false, true, address(market));
        emit IModelMarket.OperatorUpdated(operator, "https://new", bytes32(uint256(7)));
        vm.prank(operator);
        market.updateOperator("https://new", bytes32(uint256(7)));
        (,,, bytes32 key, string memory ep) = market.getOperator(operator);
        assertEq(key, bytes32(uint256(7)));
        assertEq(ep, "https://new");
    }

    function testRevert_update_notRegistered() public {
        vm.prank(op2);
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.OperatorNotRegistered.selector, op2));
        market.updateOperator("https://new", X25519);
    }

    function test_addStake() public {
        vm.expectEmit(true, false, false, true, address(market));
        emit IModelMarket.StakeAdded(operator, 1 ether, 3 ether);
        vm.prank(operator);
        market.addStake{value: 1 ether}();
        (, uint256 stake,,,) = market.getOperator(operator);
        assertEq(stake, 3 ether);
    }

    function testRevert_addStake_zeroOrOverflow() public {
        vm.prank(operator);
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.AmountTooLarge.selector, 0));
        market.addStake();
        uint256 big = type(uint96).max;
        vm.deal(operator, big);
        vm.prank(operator);
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.AmountTooLarge.selector, big));
        market.addStake{value: big}();
    }

    function test_unbonding_fullCycle() public {
        vm.warp(1000);
        vm.prank(operator);
        vm.expectEmit(true, false, false, true, address(market));
        emit IModelMarket.UnbondingStarted(operator, 1000 + UNBONDING);
        market.startUnbonding();

        // no new listings or jobs while unbonding
        vm.prank(seller);
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.OperatorNotActive.selector, operator));
        market.listModel(_listing(address(usd)));
        vm.prank(buyer);
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.OperatorNotActive.selector, operator));
        market.requestJob(_req(modelId, 1));

        vm.prank(operator);
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.UnbondingNotOver.selector, 1000 + UNBONDING));
        market.completeUnbonding();

        vm.warp(1000 + UNBONDING);
        vm.expectEmit(true, false, false, true, address(market));
        emit IModelMarket.OperatorExited(operator, 2 ether);
        vm.prank(operator);
        market.completeUnbonding();
        assertEq(market.balanceOf(operator, address(0)), 2 ether);
        (IModelMarket.OperatorStatus st, uint256 stake,,,) = market.getOperator(operator);
        assertTrue(st == IModelMarket.OperatorStatus.None);
        assertEq(stake, 0);

        uint256 before = operator.balance;
        vm.prank(operator);
        market.withdraw(address(0));
        assertEq(operator.balance, before + 2 ether);

        // may register again
        vm.prank(operator);
        market.registerOperator{value: 1 ether}("http://again", X25519);
    }

    function test_cancelUnbonding() public {
        vm.startPrank(operator);
        market.startUnbonding();
        vm.expectEmit(true, false, false, true, address(market));
        emit IModelMarket.UnbondingCancelled(operator);
        market.cancelUnbonding();
        vm.stopPrank();
        (IModelMarket.OperatorStatus st,, uint256 unlockAt,,) = market.getOperator(operator);
        assertTrue(st == IModelMarket.OperatorStatus.Active);
        assertEq(unlockAt, 0);
        _requestUsd(1);
    }

    function testRevert_unbonding_states() public {
        vm.startPrank(operator);
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.NotUnbonding.selector, operator));
        market.cancelUnbonding();
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.NotUnbonding.selector, operator));
        market.completeUnbonding();
        market.startUnbonding();
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.OperatorNotActive.selector, operator));
        market.startUnbonding();
        vm.stopPrank();
        vm.prank(op2);
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.OperatorNotRegistered.selector, op2));
        market.startUnbonding();
    }

    function test_underStakedOperatorGetsNoJobs() public {
        vm.prank(owner);
        market.setStakeParams(5 ether, PENALTY);
        vm.prank(buyer);
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.OperatorNotActive.selector, operator));
        market.requestJob(_req(modelId, 1));
        vm.prank(operator);
        market.addStake{value: 3 ether}();
        _requestUsd(1);
    }

    function test_slashCappedByStake() public {
        ModelMarket m2 = new ModelMarket(owner, treasury, 0, 1 ether, 1 ether, UNBONDING, MAX_DEADLINE);
        vm.prank(owner);
        m2.setTokenAllowed(address(usd), true);
        vm.prank(op2);
        m2.registerOperator{value: 1.5 ether}("x", X25519);
        vm.prank(seller);
        IModelMarket.Listing memory l = _listing(address(usd));
        l.operator = op2;
        uint256 id = m2.listModel(l);
        vm.prank(op2);
        m2.acceptModel(id);
        vm.startPrank(buyer);
        m2.registerKey(KEY, PARAMS);
        usd.approve(address(m2), type(uint256).max);
        uint256 j1 = m2.requestJob(_req(id, 1));
        uint256 j2 = m2.requestJob(_req(id, 1));
        uint256 j3 = m2.requestJob(_req(id, 1));
        vm.stopPrank();
        vm.warp(block.timestamp + DEADLINE + 1);
        m2.refundExpired(j1);
        // what is left of the stake (0.5 ether) is all the second expiry can take
        vm.expectEmit(true, true, false, true, address(m2));
        emit IModelMarket.JobExpired(j2, address(this), PRICE + OP_FEE, 0.5 ether);
        m2.refundExpired(j2);
        // stake is gone: the third expiry refunds without a slash
        vm.expectEmit(true, true, false, true, address(m2));
        emit IModelMarket.JobExpired(j3, address(this), PRICE + OP_FEE, 0);
        m2.refundExpired(j3);
        assertEq(m2.balanceOf(buyer, address(usd)), 3 * uint256(PRICE + OP_FEE));
        assertEq(m2.balanceOf(buyer, address(0)), 0, "nobody is paid from a slash");
        assertEq(address(m2).balance, 0);
        assertEq(m2.BURN_ADDRESS().balance, 1.5 ether);
    }
}
