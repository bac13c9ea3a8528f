// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {MarketBase} from "./MarketBase.sol";
import {Models} from "./Models.sol";

/// @title ModelMarket
/// @notice The ModelMart marketplace: operators, listings, evaluation keys, escrowed jobs and
///         pull payments for private (FHE) inference. The chain holds money and commitments,
///         never data: inputs, keys, models and results are blobs addressed by SHA-256 off-chain.
/// @dev Invariant: for every token, this contract's balance equals escrow of pending jobs plus
///      withdrawable balances plus (native coin only) operator stakes. Every job ends exactly once.
contract ModelMarket is Models {
    /// @notice Deploy the marketplace.
    /// @param owner_ Owner (Ownable2Step) who sets fees and stake parameters.
    /// @param treasury_ Account credited with protocol fees.
    /// @param feeBps_ Initial protocol fee in basis points (at most `MAX_FEE_BPS`).
    /// @param minStake_ Minimum operator stake (native coin).
    /// @param slashPenalty_ Stake slashed per expired job (at most `minStake_`).
    /// @param unbondingDelay_ Seconds an operator waits to leave; must exceed `maxJobDeadline_`.
    /// @param maxJobDeadline_ Longest job deadline a listing may set.
    constructor(
        address owner_,
        address treasury_,
        uint16 feeBps_,
        uint96 minStake_,
        uint96 slashPenalty_,
        uint256 unbondingDelay_,
        uint32 maxJobDeadline_
    ) MarketBase(owner_, treasury_, feeBps_, minStake_, slashPenalty_, unbondingDelay_, maxJobDeadline_) {}

    // ------------------------------------------------------------ requests

    /// @notice Request a job and escrow its full price in the same transaction. For the native
    ///         coin send at least the price (`msg.value` is the maximum; any excess is credited to
    ///         the caller's withdrawable balance); for an ERC-20, approve this contract first.
    /// @param r The request; `r.maxTotalPrice` caps what the caller pays even if the seller reprices.
    /// @return jobId The new job's id.
    function requestJob(JobRequest calldata r) external payable nonReentrant returns (uint256 jobId) {
        return _request(r);
    }

    /// @notice Request an ERC-20 job with an EIP-2612 permit instead of a prior approval, in one
    ///         transaction. A permit that was already used (front-run) is tolerated when the
    ///         allowance is in place.
    /// @param r The request.
    /// @param permitDeadline The permit's deadline.
    /// @param v Signature `v`.
    /// @param rs Signature `r`.
    /// @param s Signature `s`.
    /// @return jobId The new job's id.
    function requestJobWithPermit(JobRequest calldata r, uint256 permitDeadline, uint8 v, bytes32 rs, bytes32 s)
        external
        nonReentrant
        returns (uint256 jobId)
    {
        address token = _models[r.modelId].token;
        if (token != address(0)) {
            try IERC20Permit(token).permit(msg.sender, address(this), r.maxTotalPrice, permitDeadline, v, rs, s) {}
                catch {}
        }
        return _request(r);
    }

    // ------------------------------------------------------------ settlement

    /// @notice As the job's operator, post the commitment to the encrypted result before the
    ///         deadline. The escrow is credited to the seller, the operator and the treasury.
    /// @param jobId The job.
    /// @param resultHash SHA-256 of the encrypted result blob.
    function submitResult(uint256 jobId, bytes32 resultHash) external {
        if (resultHash == bytes32(0)) revert InvalidResultHash();
        (Job storage j, Model storage m) = _pendingForOperator(jobId);
        j.status = JobStatus.Completed;
        uint256 bps = j.feeBps;
        uint256 sellerGross = j.sellerAmount;
        uint256 operatorGross = j.operatorAmount;
        uint256 sellerFee = sellerGross * bps / 10_000;
        uint256 operatorFee = operatorGross * bps / 10_000;
        address token = m.token;
        emit JobCompleted(
            jobId, msg.sender, resultHash, sellerGross - sellerFee, operatorGross - operatorFee, sellerFee + operatorFee
        );
        _credit(m.seller, token, jobId, sellerGross - sellerFee);
        _credit(msg.sender, token, jobId, operatorGross - operatorFee);
        _credit(_fee.treasury, token, jobId, sellerFee + operatorFee);
    }

    /// @notice As the job's operator, reject it with a reason code before the deadline; the buyer
    ///         is refunded in full.
    /// @param jobId The job.
    /// @param reason Reason code (hash mismatch, malformed input, too many rows, ...).
    function rejectJob(uint256 jobId, uint16 reason) external {
        (Job storage j, Model storage m) = _pendingForOperator(jobId);
        j.status = JobStatus.Rejected;
        uint256 refund = uint256(j.sellerAmount) + j.operatorAmount;
        emit JobRejected(jobId, msg.sender, reason, refund);
        _credit(j.buyer, m.token, jobId, refund);
    }

    /// @notice After the deadline of an unanswered job, refund the buyer in full and slash the
    ///         operator's stake by the penalty in force when the job was requested (for a
    ///         native-coin job at most what it escrowed; at most what is left of the stake). The
    ///         slash is burned: an expiry pays nobody more than the job cost, so no one profits
    ///         from making a job expire. Callable by anyone.
    /// @param jobId The job.
    function refundExpired(uint256 jobId) external nonReentrant {
        Job storage j = _pending(jobId);
        if (block.timestamp <= j.deadline) revert DeadlineNotReached(jobId, j.deadline);
        j.status = JobStatus.Expired;
        Model storage m = _models[j.modelId];
        address buyer = j.buyer;
        address token = m.token;
        uint256 refund = uint256(j.sellerAmount) + j.operatorAmount;
        uint256 penalty = _penalties[j.penaltyIndex];
        if (token == address(0) && refund < penalty) penalty = refund;
        uint256 slashed = _slash(m.operator, jobId, buyer, penalty);
        emit JobExpired(jobId, msg.sender, refund, slashed);
        _credit(buyer, token, jobId, refund);
        if (slashed != 0) {
            (bool ok,) = payable(BURN_ADDRESS).call{value: slashed}("");
            if (!ok) revert NativeTransferFailed(BURN_ADDRESS, slashed);
        }
    }

    /// @notice A job's on-chain fields.
    /// @param jobId The job.
    /// @return The stored job.
    function getJob(uint256 jobId) external view returns (Job memory) {
        return _jobs[jobId];
    }

    // ------------------------------------------------------------ internal

    function _request(JobRequest calldata r) private returns (uint256 jobId) {
        Model storage m = _models[r.modelId];
        if (m.status != ModelStatus.Active) revert BadModelStatus(r.modelId, m.status);
        if (r.rows == 0 || r.rows > m.maxRows) revert InvalidRows(r.rows, m.maxRows);
        if (r.inputHash == bytes32(0)) revert InvalidInputHash();
        EvalKey memory k = _keys[msg.sender][r.keyHash];
        if (k.state != KeyState.Registered) revert NotKeyOwner(r.keyHash);
        if (k.paramSet != m.paramSet) revert KeyParamsMismatch(k.paramSet, m.paramSet);
        address operator = m.operator;
        _admit(operator, r.rows);

        uint256 sellerAmount = uint256(r.rows) * m.pricePerRow;
        uint256 operatorAmount = uint256(r.rows) * m.operatorFeePerRow;
        uint256 total = sellerAmount + operatorAmount;
        if (total > r.maxTotalPrice) revert PriceAboveMax(total, r.maxTotalPrice);
        if (total > type(uint96).max) revert AmountTooLarge(total);

        jobId = nextJobId++;
        uint256 deadline = block.timestamp + m.jobDeadline;
        FeeConfig memory fee = _fee;
        _jobs[jobId] = Job({
            buyer: msg.sender,
            // forge-lint: disable-next-line(unsafe-typecast) -- bounded by a check above
            deadline: uint40(deadline),
            status: JobStatus.Requested,
            feeBps: fee.feeBps,
            rows: r.rows,
            // forge-lint: disable-next-line(unsafe-typecast) -- an active listing's id is below nextModelId, far under 2^48
            modelId: uint48(r.modelId),
            penaltyIndex: fee.penaltyIndex,
            // forge-lint: disable-next-line(unsafe-typecast) -- bounded by a check above
            sellerAmount: uint96(sellerAmount),
            // forge-lint: disable-next-line(unsafe-typecast) -- bounded by a check above
            operatorAmount: uint96(operatorAmount)
        });
        address token = m.token;
        _emitRequested(jobId, r, operator, token, sellerAmount, operatorAmount, deadline);
        if (token == address(0)) {
            if (msg.value < total || msg.value > r.maxTotalPrice) revert BadNativeValue(msg.value);
            _credit(msg.sender, address(0), 0, msg.value - total);
        } else {
            if (msg.value != 0) revert BadNativeValue(msg.value);
            _pullToken(token, msg.sender, total);
        }
    }

    function _emitRequested(
        uint256 jobId,
        JobRequest calldata r,
        address operator,
        address token,
        uint256 sellerAmount,
        uint256 operatorAmount,
        uint256 deadline
    ) private {
        emit JobRequested(
            jobId,
            msg.sender,
            operator,
            r.modelId,
            token,
            r.inputHash,
            r.keyHash,
            r.rows,
            sellerAmount,
            operatorAmount,
            deadline
        );
    }

    function _pending(uint256 jobId) private view returns (Job storage j) {
        j = _jobs[jobId];
        if (j.status != JobStatus.Requested) {
            if (j.status == JobStatus.None) revert UnknownJob(jobId);
            revert JobNotPending(jobId, j.status);
        }
    }

    function _pendingForOperator(uint256 jobId) private view returns (Job storage j, Model storage m) {
        j = _pending(jobId);
        m = _models[j.modelId];
        if (m.operator != msg.sender) revert NotJobOperator(jobId);
        if (block.timestamp > j.deadline) revert DeadlinePassed(jobId, j.deadline);
    }
}
