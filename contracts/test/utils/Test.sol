// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @notice The cheatcodes this project uses (a subset of forge's `Vm`).
interface Vm {
    struct Log {
        bytes32[] topics;
        bytes data;
        address emitter;
    }

    function prank(address) external;
    function startPrank(address) external;
    function stopPrank() external;
    function deal(address, uint256) external;
    function warp(uint256) external;
    function assume(bool) external pure;
    function addr(uint256) external pure returns (address);
    function sign(uint256, bytes32) external pure returns (uint8, bytes32, bytes32);
    function label(address, string calldata) external;
    function expectRevert() external;
    function expectRevert(bytes calldata) external;
    function expectRevert(bytes4) external;
    function expectEmit() external;
    function expectEmit(bool, bool, bool, bool) external;
    function expectEmit(bool, bool, bool, bool, address) external;
    function recordLogs() external;
    function getRecordedLogs() external returns (Log[] memory);
    function snapshotGasLastCall(string calldata) external returns (uint256);
    function envOr(string calldata, uint256) external view returns (uint256);
    function envOr(string calldata, address) external view returns (address);
    function startBroadcast(uint256) external;
    function stopBroadcast() external;
}

/// @notice Minimal test base: cheatcodes, assertions, `bound`, and invariant targets.
abstract contract Test {
    /// @dev forge recognises test contracts by this flag.
    bool public IS_TEST = true;

    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }

    address[] private _targetContracts;
    FuzzSelector[] private _targetSelectors;
    address[] private _targetSenders;

    // ------------------------------------------------------------ assertions

    function fail(string memory message) internal pure {
        revert(string.concat("assertion failed: ", message));
    }

    function assertTrue(bool c) internal pure {
        if (!c) fail("expected true");
    }

    function assertTrue(bool c, string memory m) internal pure {
        if (!c) fail(m);
    }

    function assertFalse(bool c) internal pure {
        if (c) fail("expected false");
    }

    function assertEq(uint256 a, uint256 b) internal pure {
        if (a != b) fail(string.concat("uint ", _u(a), " != ", _u(b)));
    }

    function assertEq(uint256 a, uint256 b, string memory m) internal pure {
        if (a != b) fail(string.concat(m, ": ", _u(a), " != ", _u(b)));
    }

    function assertEq(address a, address b) internal pure {
        if (a != b) fail("address mismatch");
    }

    function assertEq(bytes32 a, bytes32 b) internal pure {
        if (a != b) fail("bytes32 mismatch");
    }

    function assertEq(bool a, bool b) internal pure {
        if (a != b) fail("bool mismatch");
    }

    function assertEq(string memory a, string memory b) internal pure {
        if (keccak256(bytes(a)) != keccak256(bytes(b))) fail(string.concat("'", a, "' != '", b, "'"));
    }

    function assertLe(uint256 a, uint256 b, string memory m) internal pure {
        if (a > b) fail(string.concat(m, ": ", _u(a), " > ", _u(b)));
    }

    function assertGt(uint256 a, uint256 b) internal pure {
        if (a <= b) fail(string.concat(_u(a), " <= ", _u(b)));
    }

    // ------------------------------------------------------------ fuzz helpers

    /// @dev Map `x` into [min, max] without discarding runs (same idea as forge-std's `bound`).
    function bound(uint256 x, uint256 min, uint256 max) internal pure returns (uint256) {
        require(min <= max, "bound: min > max");
        if (x >= min && x <= max) return x;
        uint256 size = max - min;
        if (size == type(uint256).max) return x;
        return min + (x % (size + 1));
    }

    function makeAddr(string memory name) internal returns (address a) {
        a = vm.addr(uint256(keccak256(bytes(name))));
        vm.label(a, name);
    }

    // ------------------------------------------------------------ invariant targets (read by forge)

    function targetContract(address a) internal {
        _targetContracts.push(a);
    }

    function targetSelector(FuzzSelector memory s) internal {
        _targetSelectors.push(s);
    }

    function targetSender(address a) internal {
        _targetSenders.push(a);
    }

    function targetContracts() public view returns (address[] memory) {
        return _targetContracts;
    }

    function targetSelectors() public view returns (FuzzSelector[] memory) {
        return _targetSelectors;
    }

    function targetSenders() public view returns (address[] memory) {
        return _targetSenders;
    }

    function _u(uint256 v) private pure returns (string memory) {
        if (v == 0) return "0";
        uint256 len;
        for (uint256 t = v; t != 0; t /= 10) {
            len++;
        }
        bytes memory b = new bytes(len);
        for (; v != 0; v /= 10) {
            // forge-lint: disable-next-line(unsafe-typecast) -- small bounded values
            b[--len] = bytes1(uint8(48 + v % 10));
        }
        return string(b);
    }
}
