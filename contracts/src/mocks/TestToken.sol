// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";

/// @title TestToken
/// @notice A 6-decimal ERC-20 with EIP-2612 permit that anyone can mint. For local chains,
///         `modelmart dev` and tests only; never deploy it where tokens have value.
contract TestToken is ERC20, ERC20Permit {
    /// @notice Deploy with a name and symbol.
    /// @param name_ Token name (also the EIP-712 domain name).
    /// @param symbol_ Token symbol.
    constructor(string memory name_, string memory symbol_) ERC20(name_, symbol_) ERC20Permit(name_) {}

    /// @notice Mint `amount` to `to`. Unrestricted: test token.
    /// @param to Recipient.
    /// @param amount Amount in base units.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice 6 decimals, like the stablecoins buyers would pay with.
    /// @return 6
    function decimals() public pure override returns (uint8) {
        return 6;
    }
}
