// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice ERC-20 that burns 1 % of every transfer (the marketplace must refuse it).
contract FeeOnTransferToken is ERC20 {
    constructor() ERC20("Fee", "FEE") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function _update(address from, address to, uint256 value) internal override {
        if (from != address(0) && to != address(0)) {
            uint256 fee = value / 100;
            super._update(from, address(0), fee);
            value -= fee;
        }
        super._update(from, to, value);
    }
}

/// @notice An account that refuses the native coin.
contract RejectsNative {
    function exec(address target, bytes calldata data) external payable returns (bytes memory) {
        (bool ok, bytes memory ret) = target.call{value: msg.value}(data);
        if (!ok) {
            assembly {
                revert(add(ret, 32), mload(ret))
            }
        }
        return ret;
    }
}

/// @notice Re-enters the marketplace when it receives the native coin.
contract Reenterer {
    address public target;
    bytes public data;
    bool public reentered;
    bytes public reason;

    function arm(address target_, bytes calldata data_) external {
        target = target_;
        data = data_;
    }

    function exec(address t, bytes calldata d) external payable {
        (bool ok, bytes memory ret) = t.call{value: msg.value}(d);
        if (!ok) {
            assembly {
                revert(add(ret, 32), mload(ret))
            }
        }
    }

    receive() external payable {
        if (target != address(0) && !reentered) {
            reentered = true;
            (bool ok, bytes memory ret) = target.call(data);
            require(!ok, "reentry succeeded");
            reason = ret;
        }
    }
}
