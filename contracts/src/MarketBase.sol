// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IModelMarket} from "./IModelMarket.sol";

/// @title MarketBase
/// @notice Storage, owner parameters and pull payments shared by every part of the marketplace.
/// @dev Storage is packed for the hot paths: a job is two slots, a model three. Hashes that only
///      off-chain parties read (card, sealed model, input, result) live in events, not storage.
abstract contract MarketBase is IModelMarket, Ownable2Step, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice Cap on the protocol fee: 10 %.
    uint16 public constant MAX_FEE_BPS = 1000;
    /// @notice Longest accepted operator endpoint URL, in bytes.
    uint256 public constant MAX_ENDPOINT_LENGTH = 256;
    /// @notice Highest output-mode code (0 scores, 1 rounded scores, 2 label only).
    uint8 public constant MAX_OUTPUT_MODE = 2;
    /// @notice Shortest job deadline any listing may set, in seconds: room for a few blocks of
    ///         inclusion on slow chains plus the work itself.
    uint32 public constant MIN_JOB_DEADLINE = 60;
    /// @notice Where slashed stake goes: burned, so that no party profits from an expiry.
    address public constant BURN_ADDRESS = address(0xdEaD);
    /// @notice Cap on the minimum operator stake the owner may require.
    uint96 public constant MAX_MIN_STAKE = 1000 ether;

    /// @notice Seconds between `startUnbonding` and `completeUnbonding`. Longer than any job
    ///         deadline, so every job an operator took can still be refunded and slashed.
    uint256 public immutable UNBONDING_DELAY;
    /// @notice Longest job deadline a listing may set, in seconds.
    uint32 public immutable MAX_JOB_DEADLINE;

    struct Operator {
        // slot 0: read and written by every request
        uint96 stake;
        uint40 unlockAt;
        OperatorStatus status;
        uint32 hour;
        uint32 hourRows;
        uint32 maxRowsPerHour;
        // slot 1
        bytes32 x25519Key;
        // slot 2
        string endpoint;
        // slot 3: read by listModel only
        uint96 minFeePerRow;
        uint32 minJobDeadline;
        uint32 maxRowsPerJob;
    }

    struct Model {
        // slot 0
        address seller;
        uint32 maxRows;
        uint32 jobDeadline;
        ModelStatus status;
        uint16 paramSet;
        // slot 1
        address operator;
        uint96 operatorFeePerRow;
        // slot 2
        address token;
        uint96 pricePerRow;
    }

    struct Job {
        // slot 0
        address buyer;
        uint40 deadline;
        JobStatus status;
        uint16 feeBps;
        uint32 rows;
        // slot 1
        uint48 modelId;
        uint16 penaltyIndex;
        uint96 sellerAmount;
        uint96 operatorAmount;
    }

    /// @dev Lifecycle of a (buyer, key hash) registration.
    enum KeyState {
        None,
        Registered,
        Revoked
    }

    struct EvalKey {
        KeyState state;
        uint16 paramSet;
    }

    /// @dev Packed owner parameters read on the request path; `penaltyIndex` points into
    ///      `_penalties`, so each job keeps the penalty in force when it was requested.
    struct FeeConfig {
        address treasury;
        uint16 feeBps;
        uint16 penaltyIndex;
    }

    FeeConfig internal _fee;
    /// @notice Minimum stake for an operator to accept listings and receive jobs.
    uint96 public minStake;
    /// @notice Id the next listing gets (ids start at 1).
    uint64 public nextModelId = 1;
    /// @notice Id the next job gets (ids start at 1).
    uint64 public nextJobId = 1;
    /// @dev Every slash penalty ever set, oldest first; jobs store the index of theirs.
    uint96[] internal _penalties;

    mapping(address => Operator) internal _operators;
    mapping(uint256 => Model) internal _models;
    mapping(uint256 => Job) internal _jobs;
    mapping(address => mapping(bytes32 => EvalKey)) internal _keys;
    mapping(address => bool) internal _allowedTokens;
    mapping(address => mapping(address => uint256)) internal _balances;

    constructor(
        address owner_,
        address treasury_,
        uint16 feeBps_,
        uint96 minStake_,
        uint96 slashPenalty_,
        uint256 unbondingDelay_,
        uint32 maxJobDeadline_
    ) Ownable(owner_) {
        if (maxJobDeadline_ < MIN_JOB_DEADLINE || unbondingDelay_ <= maxJobDeadline_) {
            revert InvalidConfig();
        }
        UNBONDING_DELAY = unbondingDelay_;
        MAX_JOB_DEADLINE = maxJobDeadline_;
        _setProtocolFee(feeBps_, treasury_);
        _setStakeParams(minStake_, slashPenalty_);
        _allowedTokens[address(0)] = true;
        emit TokenAllowed(address(0), true);
    }

    // ------------------------------------------------------------ owner

    /// @notice Set the protocol fee (capped at `MAX_FEE_BPS`) and the treasury that receives it.
    ///         Jobs keep the fee in force when they were requested.
    /// @param feeBps Fee in basis points of each settled job.
    /// @param treasury Account credited with fees.
    function setProtocolFee(uint16 feeBps, address treasury) external onlyOwner {
        _setProtocolFee(feeBps, treasury);
    }

    /// @notice Set the minimum operator stake (at most `MAX_MIN_STAKE`) and the slashing penalty
    ///         per expired job (at most the minimum stake). The penalty applies to jobs requested
    ///         from now on; the minimum stake gates new listings and jobs, never settlement.
    /// @param minStake_ New minimum stake (native coin).
    /// @param slashPenalty_ New penalty.
    function setStakeParams(uint96 minStake_, uint96 slashPenalty_) external onlyOwner {
        _setStakeParams(minStake_, slashPenalty_);
    }

    /// @notice Disabled: the market always has an owner (fees, tokens and stake parameters).
    function renounceOwnership() public view override onlyOwner {
        revert RenounceDisabled();
    }

    /// @notice Allow or disallow an ERC-20 token for new listings. Only plain tokens belong here:
    ///         rebasing tokens break any escrow; fee-on-transfer tokens are refused at deposit.
    /// @param token The token.
    /// @param allowed Whether new listings may use it.
    function setTokenAllowed(address token, bool allowed) external onlyOwner {
        if (token == address(0)) revert TokenNotAllowed(token);
        _allowedTokens[token] = allowed;
        emit TokenAllowed(token, allowed);
    }

    // ------------------------------------------------------------ pull payments

    /// @notice Withdraw the caller's whole balance of `token` (`address(0)` for the native coin).
    /// @param token The token.
    function withdraw(address token) external nonReentrant {
        uint256 amount = _balances[msg.sender][token];
        if (amount == 0) revert NothingToWithdraw(token);
        _balances[msg.sender][token] = 0;
        emit Withdrawn(msg.sender, token, amount);
        if (token == address(0)) {
            (bool ok,) = payable(msg.sender).call{value: amount}("");
            if (!ok) revert NativeTransferFailed(msg.sender, amount);
        } else {
            IERC20(token).safeTransfer(msg.sender, amount);
        }
    }

    // ------------------------------------------------------------ views

    /// @notice Withdrawable balance of `account` in `token`.
    /// @param account The account.
    /// @param token The token (`address(0)` for native).
    /// @return The balance.
    function balanceOf(address account, address token) external view returns (uint256) {
        return _balances[account][token];
    }

    /// @notice Current protocol fee and treasury.
    /// @return feeBps Fee in basis points.
    /// @return treasury Treasury account.
    function protocolFee() external view returns (uint16 feeBps, address treasury) {
        FeeConfig memory f = _fee;
        return (f.feeBps, f.treasury);
    }

    /// @notice The slash penalty that applies to jobs requested now.
    /// @return The penalty (native coin).
    function slashPenalty() external view returns (uint96) {
        return _penalties[_fee.penaltyIndex];
    }

    /// @notice Whether new listings may use `token`.
    /// @param token The token.
    /// @return True when allowed.
    function isTokenAllowed(address token) external view returns (bool) {
        return _allowedTokens[token];
    }

    // ------------------------------------------------------------ internal

    function _setProtocolFee(uint16 feeBps, address treasury) internal {
        if (feeBps > MAX_FEE_BPS) revert FeeTooHigh(feeBps, MAX_FEE_BPS);
        if (treasury == address(0)) revert InvalidTreasury();
        _fee.treasury = treasury;
        _fee.feeBps = feeBps;
        emit ProtocolFeeSet(feeBps, treasury);
    }

    function _setStakeParams(uint96 minStake_, uint96 slashPenalty_) internal {
        uint256 next = _penalties.length;
        if (minStake_ > MAX_MIN_STAKE || slashPenalty_ > minStake_ || next > type(uint16).max) {
            revert InvalidStakeParams();
        }
        minStake = minStake_;
        _penalties.push(slashPenalty_);
        // forge-lint: disable-next-line(unsafe-typecast) -- bounded by a check above
        _fee.penaltyIndex = uint16(next);
        emit StakeParamsSet(minStake_, slashPenalty_);
    }

    function _credit(address account, address token, uint256 jobId, uint256 amount) internal {
        if (amount == 0) return;
        _balances[account][token] += amount;
        emit Credited(account, token, jobId, amount);
    }

    /// @dev Pull `amount` of an ERC-20 from `from`, refusing tokens that deliver less.
    function _pullToken(address token, address from, uint256 amount) internal {
        IERC20 t = IERC20(token);
        uint256 before = t.balanceOf(address(this));
        t.safeTransferFrom(from, address(this), amount);
        uint256 received = t.balanceOf(address(this)) - before;
        if (received != amount) revert TransferShortfall(amount, received);
    }
}
