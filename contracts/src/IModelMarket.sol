// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title IModelMarket
/// @notice Types, events and errors of the ModelMart marketplace. Events are the API of the
///         off-chain services: every state change emits one, carrying everything the indexer needs
///         so that it never has to read storage.
interface IModelMarket {
    // ------------------------------------------------------------------ types

    /// @notice Lifecycle of an operator.
    enum OperatorStatus {
        None,
        Active,
        Unbonding
    }

    /// @notice Lifecycle of a model listing.
    enum ModelStatus {
        None,
        Proposed,
        Active,
        Paused,
        Delisted,
        Declined
    }

    /// @notice Lifecycle of a job. `Requested` is the only non-final state.
    enum JobStatus {
        None,
        Requested,
        Completed,
        Rejected,
        Expired
    }

    /// @notice What a seller puts in a listing.
    /// @param operator The coprocessor operator that will host the sealed model.
    /// @param token Payment token; `address(0)` for the native coin.
    /// @param pricePerRow Seller's share per input row, in token units.
    /// @param operatorFeePerRow Operator's fee per input row, in token units.
    /// @param cardHash SHA-256 of the public model card blob.
    /// @param sealedModelHash SHA-256 of the sealed (HPKE-encrypted) model blob.
    /// @param paramSet FHE parameter-set id the model is compiled for.
    /// @param maxRows Maximum rows per job.
    /// @param jobDeadline Seconds the operator has to answer a job.
    /// @param outputMode What a result reveals: 0 scores, 1 rounded scores, 2 label only.
    struct Listing {
        address operator;
        address token;
        uint96 pricePerRow;
        uint96 operatorFeePerRow;
        bytes32 cardHash;
        bytes32 sealedModelHash;
        uint16 paramSet;
        uint32 maxRows;
        uint32 jobDeadline;
        uint8 outputMode;
    }

    /// @notice What an operator agrees to serve, enforced by `listModel` and `requestJob`.
    /// @param minFeePerRow Lowest operator fee per row a listing may name.
    /// @param minJobDeadline Shortest job deadline a listing may name (at least `MIN_JOB_DEADLINE`).
    /// @param maxRowsPerJob Largest `maxRows` a listing may name.
    /// @param maxRowsPerHour Rows the operator takes per clock hour (UTC), over all its listings;
    ///        requests beyond it revert until the next hour.
    struct OperatorTerms {
        uint96 minFeePerRow;
        uint32 minJobDeadline;
        uint32 maxRowsPerJob;
        uint32 maxRowsPerHour;
    }

    /// @notice What a buyer puts in a job request.
    /// @param modelId The listing to run.
    /// @param inputHash SHA-256 of the encrypted input blob.
    /// @param keyHash SHA-256 of the buyer's registered evaluation-key blob.
    /// @param rows Number of input rows in the blob.
    /// @param maxTotalPrice The most the buyer agrees to pay in total (seller + operator shares).
    struct JobRequest {
        uint64 modelId;
        bytes32 inputHash;
        bytes32 keyHash;
        uint32 rows;
        uint256 maxTotalPrice;
    }

    // ---------------------------------------------------------------- events

    /// @notice An operator registered.
    /// @param operator The operator's address.
    /// @param endpoint Base URL of its blob and status API.
    /// @param x25519Key Its X25519 public key, to which sellers seal models.
    /// @param stake Native-coin stake deposited.
    event OperatorRegistered(address indexed operator, string endpoint, bytes32 x25519Key, uint256 stake);

    /// @notice An operator changed its endpoint or X25519 key.
    /// @param operator The operator's address.
    /// @param endpoint New endpoint URL.
    /// @param x25519Key New X25519 public key.
    event OperatorUpdated(address indexed operator, string endpoint, bytes32 x25519Key);

    /// @notice An operator set the terms under which it serves (see `OperatorTerms`). Listings
    ///         made before keep their fields; the hourly capacity applies to every request.
    /// @param operator The operator's address.
    /// @param terms The new terms.
    event OperatorTermsSet(address indexed operator, OperatorTerms terms);

    /// @notice An operator added stake.
    /// @param operator The operator's address.
    /// @param amount Amount added.
    /// @param stake Stake after the deposit.
    event StakeAdded(address indexed operator, uint256 amount, uint256 stake);

    /// @notice An operator started leaving; it takes no new listings or jobs from now on.
    /// @param operator The operator's address.
    /// @param unlockAt Timestamp from which the stake can be released.
    event UnbondingStarted(address indexed operator, uint256 unlockAt);

    /// @notice An operator stopped leaving and is active again.
    /// @param operator The operator's address.
    event UnbondingCancelled(address indexed operator);

    /// @notice An operator left; its remaining stake became withdrawable.
    /// @param operator The operator's address.
    /// @param stakeReturned Stake credited to its native-coin balance.
    event OperatorExited(address indexed operator, uint256 stakeReturned);

    /// @notice An operator's stake was slashed for letting a job expire.
    /// @param operator The operator's address.
    /// @param jobId The expired job.
    /// @param buyer The job's buyer (refunded in full; the slash itself is burned).
    /// @param amount Amount slashed.
    /// @param stake Stake remaining.
    event OperatorSlashed(
        address indexed operator, uint256 indexed jobId, address indexed buyer, uint256 amount, uint256 stake
    );

    /// @notice A seller listed a model; it awaits the operator's acceptance.
    /// @param modelId The new listing's id.
    /// @param seller The seller.
    /// @param operator The chosen operator.
    /// @param listing Every field of the listing.
    event ModelListed(uint256 indexed modelId, address indexed seller, address indexed operator, Listing listing);

    /// @notice The operator proved it can serve the model; buyers can now use it.
    /// @param modelId The listing.
    /// @param operator The operator.
    event ModelAccepted(uint256 indexed modelId, address indexed operator);

    /// @notice The operator refused to serve the model.
    /// @param modelId The listing.
    /// @param operator The operator.
    /// @param reason Reason code (see the coprocessor's documentation).
    event ModelDeclined(uint256 indexed modelId, address indexed operator, uint16 reason);

    /// @notice The seller changed its price per row. Pending jobs keep the price they were requested at.
    /// @param modelId The listing.
    /// @param pricePerRow New seller share per row.
    event ModelRepriced(uint256 indexed modelId, uint256 pricePerRow);

    /// @notice The seller paused or resumed the listing.
    /// @param modelId The listing.
    /// @param paused True when paused.
    event ModelPaused(uint256 indexed modelId, bool paused);

    /// @notice The seller delisted the model for good. Pending jobs still settle.
    /// @param modelId The listing.
    event ModelDelisted(uint256 indexed modelId);

    /// @notice The operator stopped serving an accepted listing for good (status `Delisted`).
    ///         Pending jobs still settle.
    /// @param modelId The listing.
    /// @param operator The operator.
    /// @param reason Reason code.
    event ModelRetired(uint256 indexed modelId, address indexed operator, uint16 reason);

    /// @notice A buyer registered an evaluation key (by hash of its blob). Keys are per
    ///         (buyer, hash): registering a hash never blocks another buyer.
    /// @param keyHash SHA-256 of the key blob.
    /// @param owner The buyer.
    /// @param paramSet FHE parameter-set id of the key.
    event KeyRegistered(bytes32 indexed keyHash, address indexed owner, uint16 paramSet);

    /// @notice A buyer revoked an evaluation key; new jobs can no longer use it.
    /// @param keyHash SHA-256 of the key blob.
    /// @param owner The buyer.
    event KeyRevoked(bytes32 indexed keyHash, address indexed owner);

    /// @notice A buyer requested a job and escrowed its full price.
    /// @param jobId The new job's id.
    /// @param buyer The buyer.
    /// @param operator The operator that must answer.
    /// @param modelId The listing.
    /// @param token Payment token (`address(0)` for native).
    /// @param inputHash SHA-256 of the encrypted input blob.
    /// @param keyHash SHA-256 of the evaluation-key blob.
    /// @param rows Number of rows.
    /// @param sellerAmount Escrowed seller share (before protocol fee).
    /// @param operatorAmount Escrowed operator share (before protocol fee).
    /// @param deadline Timestamp after which the job can be refunded.
    event JobRequested(
        uint256 indexed jobId,
        address indexed buyer,
        address indexed operator,
        uint256 modelId,
        address token,
        bytes32 inputHash,
        bytes32 keyHash,
        uint32 rows,
        uint256 sellerAmount,
        uint256 operatorAmount,
        uint256 deadline
    );

    /// @notice The operator posted the result commitment; escrow was paid out.
    /// @param jobId The job.
    /// @param operator The operator.
    /// @param resultHash SHA-256 of the encrypted result blob.
    /// @param sellerAmount Net amount credited to the seller.
    /// @param operatorAmount Net amount credited to the operator.
    /// @param protocolFee Amount credited to the treasury.
    event JobCompleted(
        uint256 indexed jobId,
        address indexed operator,
        bytes32 resultHash,
        uint256 sellerAmount,
        uint256 operatorAmount,
        uint256 protocolFee
    );

    /// @notice The operator rejected the job; the buyer was refunded in full.
    /// @param jobId The job.
    /// @param operator The operator.
    /// @param reason Reason code.
    /// @param refund Amount credited back to the buyer.
    event JobRejected(uint256 indexed jobId, address indexed operator, uint16 reason, uint256 refund);

    /// @notice The job's deadline passed unanswered; the buyer was refunded and the operator slashed.
    /// @param jobId The job.
    /// @param caller Whoever triggered the refund.
    /// @param refund Escrow credited back to the buyer.
    /// @param slashed Stake taken from the operator and burned (native coin).
    event JobExpired(uint256 indexed jobId, address indexed caller, uint256 refund, uint256 slashed);

    /// @notice An account's withdrawable balance grew.
    /// @param account The account credited.
    /// @param token The token (`address(0)` for native).
    /// @param jobId The job that caused it, or 0 (stake return, native overpayment).
    /// @param amount Amount credited.
    event Credited(address indexed account, address indexed token, uint256 indexed jobId, uint256 amount);

    /// @notice An account withdrew its balance of a token.
    /// @param account The account.
    /// @param token The token (`address(0)` for native).
    /// @param amount Amount sent.
    event Withdrawn(address indexed account, address indexed token, uint256 amount);

    /// @notice The owner changed the protocol fee or the treasury.
    /// @param feeBps New fee in basis points.
    /// @param treasury New treasury.
    event ProtocolFeeSet(uint16 feeBps, address treasury);

    /// @notice The owner changed staking parameters. The penalty applies to jobs requested from now on.
    /// @param minStake New minimum stake.
    /// @param slashPenalty New penalty per expired job.
    event StakeParamsSet(uint256 minStake, uint256 slashPenalty);

    /// @notice The owner allowed or disallowed a payment token.
    /// @param token The token.
    /// @param allowed True when listings may use it.
    event TokenAllowed(address indexed token, bool allowed);

    // ---------------------------------------------------------------- errors

    /// @notice The caller is not a registered operator (or is one already, for `register`).
    error OperatorNotRegistered(address operator);
    /// @notice The operator is already registered.
    error OperatorAlreadyRegistered(address operator);
    /// @notice The operator is not active (unbonding or under-staked) for this action.
    error OperatorNotActive(address operator);
    /// @notice The operator is not unbonding.
    error NotUnbonding(address operator);
    /// @notice The unbonding delay has not passed yet.
    error UnbondingNotOver(uint256 unlockAt);
    /// @notice The stake is below the minimum.
    error StakeTooLow(uint256 stake, uint256 minStake);
    /// @notice An endpoint must be a non-empty string of at most 256 bytes.
    error InvalidEndpoint();
    /// @notice The X25519 key must be non-zero.
    error InvalidX25519Key();
    /// @notice The token is not allowed for listings.
    error TokenNotAllowed(address token);
    /// @notice A listing field is out of range.
    error InvalidListing();
    /// @notice No model with this id.
    error UnknownModel(uint256 modelId);
    /// @notice The caller is not the model's seller.
    error NotSeller(uint256 modelId);
    /// @notice The caller is not the model's operator.
    error NotModelOperator(uint256 modelId);
    /// @notice The model is not in the state this action needs.
    error BadModelStatus(uint256 modelId, ModelStatus status);
    /// @notice The key hash is zero or already registered by the caller.
    error KeyAlreadyRegistered(bytes32 keyHash);
    /// @notice The key is not registered to the caller.
    error NotKeyOwner(bytes32 keyHash);
    /// @notice The key was made for other FHE parameters than the model's.
    error KeyParamsMismatch(uint16 keyParamSet, uint16 modelParamSet);
    /// @notice The row count is zero or above the model's maximum.
    error InvalidRows(uint32 rows, uint32 maxRows);
    /// @notice The input hash is zero.
    error InvalidInputHash();
    /// @notice The listing's current price is above the buyer's maximum.
    error PriceAboveMax(uint256 price, uint256 maxTotalPrice);
    /// @notice Native coin was sent with an ERC-20 job, or the wrong amount was sent.
    error BadNativeValue(uint256 sent);
    /// @notice A token took a fee on transfer or otherwise delivered less than asked.
    error TransferShortfall(uint256 expected, uint256 received);
    /// @notice An amount does not fit the packed storage.
    error AmountTooLarge(uint256 amount);
    /// @notice No job with this id.
    error UnknownJob(uint256 jobId);
    /// @notice The job is already settled.
    error JobNotPending(uint256 jobId, JobStatus status);
    /// @notice The caller is not the job's operator.
    error NotJobOperator(uint256 jobId);
    /// @notice The deadline has passed; only an expiry refund is possible.
    error DeadlinePassed(uint256 jobId, uint256 deadline);
    /// @notice The deadline has not passed yet.
    error DeadlineNotReached(uint256 jobId, uint256 deadline);
    /// @notice The result hash is zero.
    error InvalidResultHash();
    /// @notice Nothing to withdraw.
    error NothingToWithdraw(address token);
    /// @notice Sending native coin failed.
    error NativeTransferFailed(address to, uint256 amount);
    /// @notice The protocol fee is above the cap.
    error FeeTooHigh(uint16 feeBps, uint16 maxFeeBps);
    /// @notice The treasury is the zero address.
    error InvalidTreasury();
    /// @notice Constructor parameters are inconsistent.
    error InvalidConfig();
    /// @notice A listing asks for less than its operator's terms (fee, deadline or rows per job).
    error OutsideOperatorTerms(address operator);
    /// @notice Operator terms out of range (deadline outside the protocol's bounds, zero rows).
    error InvalidTerms();
    /// @notice The operator's hourly row capacity is used up; retry in the next hour.
    error OperatorAtCapacity(address operator, uint256 requested, uint256 capacity);
    /// @notice Staking parameters out of range (`minStake` above `MAX_MIN_STAKE`, a penalty above
    ///         `minStake`) or changed too often.
    error InvalidStakeParams();
    /// @notice Ownership cannot be renounced: fees, tokens and stake parameters need an owner.
    error RenounceDisabled();
}
