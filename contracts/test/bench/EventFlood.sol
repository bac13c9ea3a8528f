// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IModelMarket} from "../../src/IModelMarket.sol";
import {ModelMarket} from "../../src/ModelMarket.sol";

/// @title EventFlood
/// @notice Benchmark helper (not deployed anywhere real): acts as operator, seller and buyer at
///         once so that one transaction can emit many marketplace events. The indexer benchmark
///         uses it to pre-generate 100,000 events on anvil in seconds, of every kind the market
///         emits: `flood` the job path, `varied` the rest, `expire` and `leave` what needs time.
contract EventFlood {
    /// @notice The market under test.
    ModelMarket public immutable market;
    /// @notice Listings made by `setup`.
    uint256[] public models;
    /// @notice The evaluation key registered by `setup`.
    bytes32 public constant KEY = keccak256("event flood key");
    /// @notice Jobs requested so far (makes every input hash distinct).
    uint256 public jobs;

    /// @param market_ The market under test.
    constructor(ModelMarket market_) {
        market = market_;
    }

    /// @notice Accept credits (native-coin payouts are pulled by `withdraw`).
    receive() external payable {}

    /// @notice Register as operator with `msg.value` stake, list and accept `n` native-coin
    ///         models, and register the key.
    /// @param n Number of models to list.
    function setup(uint256 n) external payable {
        market.registerOperator{value: msg.value}("http://127.0.0.1:7070", keccak256("flood x25519"));
        for (uint256 i = 0; i < n; i++) {
            IModelMarket.Listing memory l = IModelMarket.Listing({
                operator: address(this),
                token: address(0),
                // casting to 'uint96' is safe because n is a handful of models
                // forge-lint: disable-next-line(unsafe-typecast)
                pricePerRow: uint96(1000 + i),
                operatorFeePerRow: 100,
                cardHash: keccak256(abi.encode("card", i)),
                sealedModelHash: keccak256(abi.encode("sealed", i)),
                paramSet: 1,
                maxRows: 64,
                jobDeadline: 3600,
                outputMode: 2
            });
            uint256 id = market.listModel(l);
            market.acceptModel(id);
            models.push(id);
        }
        market.registerKey(KEY, 1);
    }

    /// @notice Request `n` one-row jobs round-robin over the models and settle each at once:
    ///         every tenth is rejected, the rest completed. Send the total price as value.
    /// @param n Number of jobs.
    function flood(uint256 n) external payable {
        uint256 count = models.length;
        for (uint256 i = 0; i < n; i++) {
            uint256 k = jobs++;
            uint256 id = models[k % count];
            uint256 price = market.quote(id, 1);
            IModelMarket.JobRequest memory r = IModelMarket.JobRequest({
                // casting to 'uint64' is safe because listing ids are sequential from 1
                // forge-lint: disable-next-line(unsafe-typecast)
                modelId: uint64(id),
                inputHash: keccak256(abi.encode("input", k)),
                keyHash: KEY,
                rows: 1,
                maxTotalPrice: price
            });
            uint256 jobId = market.requestJob{value: price}(r);
            if (k % 10 == 9) {
                market.rejectJob(jobId, 1);
            } else {
                market.submitResult(jobId, keccak256(abi.encode("result", k)));
            }
        }
    }

    /// @notice Emit in one transaction the events `flood` does not: operator update, stake
    ///         top-up, terms, a listing repriced, paused and resumed, one declined, one retired,
    ///         one delisted, a key registered and revoked, a withdrawal, and an unbonding started
    ///         and cancelled. Send some stake as value.
    function varied() external payable {
        uint256 round = jobs++;
        market.updateOperator("http://127.0.0.1:7071", keccak256(abi.encode("flood x25519", round)));
        market.addStake{value: msg.value}();
        market.setOperatorTerms(
            IModelMarket.OperatorTerms({
                minFeePerRow: 100, minJobDeadline: 60, maxRowsPerJob: 64, maxRowsPerHour: type(uint32).max
            })
        );
        uint256 first = models[0];
        market.repriceModel(first, 1000);
        market.setModelPaused(first, true);
        market.setModelPaused(first, false);
        market.declineModel(_list(round, 0), 103);
        uint256 retired = _list(round, 1);
        market.acceptModel(retired);
        market.retireModel(retired, 8);
        uint256 delisted = _list(round, 2);
        market.acceptModel(delisted);
        market.delistModel(delisted);
        bytes32 key = keccak256(abi.encode("revoked key", round));
        market.registerKey(key, 1);
        market.revokeKey(key);
        market.withdraw(address(0));
        market.startUnbonding();
        market.cancelUnbonding();
    }

    /// @notice Request `n` one-row jobs and leave them unanswered (for `expire` once their
    ///         deadline has passed). Send the total price as value.
    /// @param n Number of jobs.
    /// @return first The first job id.
    function requestOnly(uint256 n) external payable returns (uint256 first) {
        for (uint256 i = 0; i < n; i++) {
            uint256 k = jobs++;
            uint256 id = models[k % models.length];
            uint256 price = market.quote(id, 1);
            IModelMarket.JobRequest memory r = IModelMarket.JobRequest({
                // casting to 'uint64' is safe because listing ids are sequential from 1
                // forge-lint: disable-next-line(unsafe-typecast)
                modelId: uint64(id),
                inputHash: keccak256(abi.encode("unanswered", k)),
                keyHash: KEY,
                rows: 1,
                maxTotalPrice: price
            });
            uint256 jobId = market.requestJob{value: price}(r);
            if (i == 0) first = jobId;
        }
    }

    /// @notice Refund jobs `first` .. `first + n - 1` past their deadline (the operator, this
    ///         contract, is slashed).
    /// @param first The first job id.
    /// @param n Number of jobs.
    function expire(uint256 first, uint256 n) external {
        for (uint256 i = 0; i < n; i++) {
            market.refundExpired(first + i);
        }
    }

    /// @notice Start leaving for good (`completeUnbonding` once the delay has passed).
    function leave() external {
        market.startUnbonding();
    }

    /// @notice Finish leaving: the stake is credited to this contract.
    function exit() external {
        market.completeUnbonding();
    }

    function _list(uint256 round, uint256 i) private returns (uint256) {
        return market.listModel(
            IModelMarket.Listing({
                operator: address(this),
                token: address(0),
                pricePerRow: 1000,
                operatorFeePerRow: 100,
                cardHash: keccak256(abi.encode("varied card", round, i)),
                sealedModelHash: keccak256(abi.encode("varied sealed", round, i)),
                paramSet: 1,
                maxRows: 64,
                jobDeadline: 3600,
                outputMode: 2
            })
        );
    }
}
