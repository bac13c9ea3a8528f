// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Vm} from "../test/utils/Test.sol";
import {ModelMarket} from "../src/ModelMarket.sol";
import {TestToken} from "../src/mocks/TestToken.sol";

/// @notice Deploys the marketplace (and, on a local chain, a permit test token) with
///         `forge script script/Deploy.s.sol --rpc-url $RPC --broadcast`.
///         Settings come from the environment: DEPLOYER_KEY (default: anvil's first account),
///         TREASURY, FEE_BPS, MIN_STAKE, SLASH_PENALTY, UNBONDING_DELAY, MAX_JOB_DEADLINE, TEST_TOKEN (1 to deploy).
contract Deploy {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));
    uint256 internal constant ANVIL_KEY_0 = 0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80;

    /// @notice Deploy and return the addresses.
    /// @return market The marketplace.
    /// @return token The test token, or `address(0)` when TEST_TOKEN is not 1.
    function run() external returns (ModelMarket market, TestToken token) {
        uint256 key = vm.envOr("DEPLOYER_KEY", ANVIL_KEY_0);
        address deployer = vm.addr(key);
        vm.startBroadcast(key);
        market = new ModelMarket(
            deployer,
            vm.envOr("TREASURY", deployer),
            // forge-lint: disable-next-line(unsafe-typecast) -- operator-supplied deployment settings
            uint16(vm.envOr("FEE_BPS", uint256(100))),
            // forge-lint: disable-next-line(unsafe-typecast) -- operator-supplied deployment settings
            uint96(vm.envOr("MIN_STAKE", uint256(1 ether))),
            // forge-lint: disable-next-line(unsafe-typecast) -- operator-supplied deployment settings
            uint96(vm.envOr("SLASH_PENALTY", uint256(0.1 ether))),
            vm.envOr("UNBONDING_DELAY", uint256(8 days)),
            // forge-lint: disable-next-line(unsafe-typecast) -- operator-supplied deployment settings
            uint32(vm.envOr("MAX_JOB_DEADLINE", uint256(7 days)))
        );
        if (vm.envOr("TEST_TOKEN", uint256(1)) == 1) {
            token = new TestToken("ModelMart Test USD", "mUSD");
            market.setTokenAllowed(address(token), true);
        }
        vm.stopBroadcast();
    }
}
