// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {MarketBase} from "./MarketBase.sol";

/// @title Operators
/// @notice Operator registry: register with an endpoint, an X25519 key and a native-coin stake;
///         set the terms it serves under; update; add stake; leave after `UNBONDING_DELAY`.
///         Stake is slashed when jobs expire.
abstract contract Operators is MarketBase {
    /// @notice Register the caller as an operator, staking `msg.value` of the native coin.
    /// @param endpoint Base URL of the operator's blob and status API.
    /// @param x25519Key X25519 public key sellers seal models to.
    function registerOperator(string calldata endpoint, bytes32 x25519Key) external payable {
        Operator storage op = _operators[msg.sender];
        if (op.status != OperatorStatus.None) revert OperatorAlreadyRegistered(msg.sender);
        _checkOperatorInfo(endpoint, x25519Key);
        if (msg.value < minStake) revert StakeTooLow(msg.value, minStake);
        if (msg.value > type(uint96).max) revert AmountTooLarge(msg.value);
        op.stake = uint96(msg.value);
        op.unlockAt = 0;
        op.status = OperatorStatus.Active;
        op.x25519Key = x25519Key;
        op.endpoint = endpoint;
        emit OperatorRegistered(msg.sender, endpoint, x25519Key, msg.value);
        // open terms until the operator sets its own
        _setTerms(
            op,
            OperatorTerms({
                minFeePerRow: 0,
                minJobDeadline: MIN_JOB_DEADLINE,
                maxRowsPerJob: type(uint32).max,
                maxRowsPerHour: type(uint32).max
            })
        );
    }

    /// @notice Set the terms under which the caller serves: listings must name at least its fee
    ///         and deadline and at most its rows per job; requests beyond its hourly row capacity
    ///         revert. Listings made before keep their fields (retire those it no longer serves).
    /// @param terms The new terms.
    function setOperatorTerms(OperatorTerms calldata terms) external {
        _setTerms(_registered(msg.sender), terms);
    }

    /// @notice The terms an operator serves under and the rows it took in the current hour.
    /// @param operator The operator.
    /// @return terms Its terms.
    /// @return rowsThisHour Rows requested from it in the current clock hour.
    function getOperatorTerms(address operator)
        external
        view
        returns (OperatorTerms memory terms, uint256 rowsThisHour)
    {
        Operator storage op = _operators[operator];
        terms = OperatorTerms({
            minFeePerRow: op.minFeePerRow,
            minJobDeadline: op.minJobDeadline,
            maxRowsPerJob: op.maxRowsPerJob,
            maxRowsPerHour: op.maxRowsPerHour
        });
        // the stored hour is never ahead of the clock: older means a fresh count
        rowsThisHour = op.hour < block.timestamp / 1 hours ? 0 : op.hourRows;
    }

    /// @notice Change the caller's endpoint and X25519 key. Sealed models already accepted stay
    ///         valid; new listings are sealed to the new key.
    /// @param endpoint New endpoint URL.
    /// @param x25519Key New X25519 public key.
    function updateOperator(string calldata endpoint, bytes32 x25519Key) external {
        Operator storage op = _registered(msg.sender);
        _checkOperatorInfo(endpoint, x25519Key);
        op.x25519Key = x25519Key;
        op.endpoint = endpoint;
        emit OperatorUpdated(msg.sender, endpoint, x25519Key);
    }

    /// @notice Add `msg.value` to the caller's stake (for instance after a slash).
    function addStake() external payable {
        Operator storage op = _registered(msg.sender);
        uint256 stake = uint256(op.stake) + msg.value;
        if (msg.value == 0 || stake > type(uint96).max) revert AmountTooLarge(msg.value);
        // forge-lint: disable-next-line(unsafe-typecast) -- bounded by a check above
        op.stake = uint96(stake);
        emit StakeAdded(msg.sender, msg.value, stake);
    }

    /// @notice Start leaving: no new listings or jobs from now on; the stake stays slashable
    ///         until `UNBONDING_DELAY` has passed.
    function startUnbonding() external {
        Operator storage op = _registered(msg.sender);
        if (op.status != OperatorStatus.Active) revert OperatorNotActive(msg.sender);
        uint256 unlockAt = block.timestamp + UNBONDING_DELAY;
        // forge-lint: disable-next-line(unsafe-typecast) -- bounded by a check above
        op.unlockAt = uint40(unlockAt);
        op.status = OperatorStatus.Unbonding;
        emit UnbondingStarted(msg.sender, unlockAt);
    }

    /// @notice Stop leaving and become active again.
    function cancelUnbonding() external {
        Operator storage op = _registered(msg.sender);
        if (op.status != OperatorStatus.Unbonding) revert NotUnbonding(msg.sender);
        op.unlockAt = 0;
        op.status = OperatorStatus.Active;
        emit UnbondingCancelled(msg.sender);
    }

    /// @notice Finish leaving: the remaining stake is credited to the caller's native balance
    ///         (withdraw it with `withdraw(address(0))`) and the registration is removed.
    function completeUnbonding() external {
        Operator storage op = _registered(msg.sender);
        if (op.status != OperatorStatus.Unbonding) revert NotUnbonding(msg.sender);
        if (block.timestamp < op.unlockAt) revert UnbondingNotOver(op.unlockAt);
        uint256 stake = op.stake;
        delete _operators[msg.sender];
        emit OperatorExited(msg.sender, stake);
        _credit(msg.sender, address(0), 0, stake);
    }

    /// @notice An operator's registration.
    /// @param operator The operator.
    /// @return status Lifecycle status.
    /// @return stake Current stake.
    /// @return unlockAt When unbonding ends (0 unless unbonding).
    /// @return x25519Key X25519 public key.
    /// @return endpoint Endpoint URL.
    function getOperator(address operator)
        external
        view
        returns (OperatorStatus status, uint256 stake, uint256 unlockAt, bytes32 x25519Key, string memory endpoint)
    {
        Operator storage op = _operators[operator];
        return (op.status, op.stake, op.unlockAt, op.x25519Key, op.endpoint);
    }

    function _registered(address operator) internal view returns (Operator storage op) {
        op = _operators[operator];
        if (op.status == OperatorStatus.None) revert OperatorNotRegistered(operator);
    }

    /// @dev Active and staked at least `minStake`: may accept listings and receive jobs.
    function _requireServing(address operator) internal view returns (Operator storage op) {
        op = _operators[operator];
        if (op.status != OperatorStatus.Active || op.stake < minStake) revert OperatorNotActive(operator);
    }

    /// @dev Serving, and `rows` more fit the operator's capacity this hour: count them. An
    ///      operator without an hourly cap is not counted (its count starts when it sets one).
    function _admit(address operator, uint32 rows) internal {
        Operator storage op = _requireServing(operator);
        if (op.maxRowsPerHour == type(uint32).max) return;
        uint256 hour = block.timestamp / 1 hours;
        uint256 used = (op.hour < hour ? 0 : uint256(op.hourRows)) + rows;
        if (used > op.maxRowsPerHour) revert OperatorAtCapacity(operator, rows, op.maxRowsPerHour);
        // forge-lint: disable-next-line(unsafe-typecast) -- hours since 1970 fit 32 bits until year 490,000
        op.hour = uint32(hour);
        // forge-lint: disable-next-line(unsafe-typecast) -- bounded by maxRowsPerHour above
        op.hourRows = uint32(used);
    }

    /// @dev A listing must not ask less of the operator than its terms allow.
    function _checkTerms(Listing calldata l) internal view {
        Operator storage op = _requireServing(l.operator);
        if (l.operatorFeePerRow < op.minFeePerRow || l.jobDeadline < op.minJobDeadline || l.maxRows > op.maxRowsPerJob)
        {
            revert OutsideOperatorTerms(l.operator);
        }
    }

    /// @dev Slash up to `penalty` from `operator`, returning the amount taken.
    function _slash(address operator, uint256 jobId, address buyer, uint256 penalty) internal returns (uint256 amount) {
        Operator storage op = _operators[operator];
        uint256 stake = op.stake;
        amount = stake < penalty ? stake : penalty;
        if (amount == 0) return 0;
        // forge-lint: disable-next-line(unsafe-typecast) -- bounded by a check above
        op.stake = uint96(stake - amount);
        emit OperatorSlashed(operator, jobId, buyer, amount, stake - amount);
    }

    function _setTerms(Operator storage op, OperatorTerms memory t) private {
        if (
            t.minJobDeadline < MIN_JOB_DEADLINE || t.minJobDeadline > MAX_JOB_DEADLINE || t.maxRowsPerJob == 0
                || t.maxRowsPerHour < t.maxRowsPerJob
        ) revert InvalidTerms();
        op.minFeePerRow = t.minFeePerRow;
        op.minJobDeadline = t.minJobDeadline;
        op.maxRowsPerJob = t.maxRowsPerJob;
        op.maxRowsPerHour = t.maxRowsPerHour;
        emit OperatorTermsSet(msg.sender, t);
    }

    function _checkOperatorInfo(string calldata endpoint, bytes32 x25519Key) private pure {
        uint256 len = bytes(endpoint).length;
        if (len == 0 || len > MAX_ENDPOINT_LENGTH) revert InvalidEndpoint();
        if (x25519Key == bytes32(0)) revert InvalidX25519Key();
    }
}
