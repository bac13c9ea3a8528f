// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Operators} from "./Operators.sol";

/// @title Models
/// @notice Model listings (list, operator accept/decline/retire, reprice, pause, delist) and the
///         buyers' evaluation-key registry.
abstract contract Models is Operators {
    // ------------------------------------------------------------ listings

    /// @notice List a model. It becomes usable once its operator accepts it. The listing must
    ///         meet its operator's terms (fee, deadline, rows per job; see `setOperatorTerms`).
    /// @param l Every field of the listing (see `IModelMarket.Listing`).
    /// @return modelId The new listing's id.
    function listModel(Listing calldata l) external returns (uint256 modelId) {
        if (!_allowedTokens[l.token]) revert TokenNotAllowed(l.token);
        if (
            l.maxRows == 0 || l.jobDeadline < MIN_JOB_DEADLINE || l.jobDeadline > MAX_JOB_DEADLINE
                || l.cardHash == bytes32(0) || l.sealedModelHash == bytes32(0) || l.outputMode > MAX_OUTPUT_MODE
        ) revert InvalidListing();
        _checkTerms(l);
        modelId = nextModelId++;
        _models[modelId] = Model({
            seller: msg.sender,
            maxRows: l.maxRows,
            jobDeadline: l.jobDeadline,
            status: ModelStatus.Proposed,
            paramSet: l.paramSet,
            operator: l.operator,
            operatorFeePerRow: l.operatorFeePerRow,
            token: l.token,
            pricePerRow: l.pricePerRow
        });
        emit ModelListed(modelId, msg.sender, l.operator, l);
    }

    /// @notice As the model's operator, confirm that the sealed model opens and compiles.
    /// @param modelId The listing.
    function acceptModel(uint256 modelId) external {
        Model storage m = _modelOf(modelId);
        if (m.operator != msg.sender) revert NotModelOperator(modelId);
        if (m.status != ModelStatus.Proposed) revert BadModelStatus(modelId, m.status);
        _requireServing(msg.sender);
        m.status = ModelStatus.Active;
        emit ModelAccepted(modelId, msg.sender);
    }

    /// @notice As the model's operator, refuse to serve it (it cannot be opened, compiled or served).
    /// @param modelId The listing.
    /// @param reason Reason code.
    function declineModel(uint256 modelId, uint16 reason) external {
        Model storage m = _modelOf(modelId);
        if (m.operator != msg.sender) revert NotModelOperator(modelId);
        if (m.status != ModelStatus.Proposed) revert BadModelStatus(modelId, m.status);
        m.status = ModelStatus.Declined;
        emit ModelDeclined(modelId, msg.sender, reason);
    }

    /// @notice As the model's operator, stop serving an accepted (active or paused) listing for
    ///         good. Buyers can no longer request it; pending jobs still settle.
    /// @param modelId The listing.
    /// @param reason Reason code.
    function retireModel(uint256 modelId, uint16 reason) external {
        Model storage m = _modelOf(modelId);
        if (m.operator != msg.sender) revert NotModelOperator(modelId);
        if (m.status != ModelStatus.Active && m.status != ModelStatus.Paused) revert BadModelStatus(modelId, m.status);
        m.status = ModelStatus.Delisted;
        emit ModelRetired(modelId, msg.sender, reason);
    }

    /// @notice As the seller, change the seller share per row. Pending jobs keep their price.
    /// @param modelId The listing.
    /// @param pricePerRow New seller share per row.
    function repriceModel(uint256 modelId, uint96 pricePerRow) external {
        Model storage m = _sellerModel(modelId);
        m.pricePerRow = pricePerRow;
        emit ModelRepriced(modelId, pricePerRow);
    }

    /// @notice As the seller, pause or resume an accepted listing.
    /// @param modelId The listing.
    /// @param paused True to pause, false to resume.
    function setModelPaused(uint256 modelId, bool paused) external {
        Model storage m = _sellerModel(modelId);
        ModelStatus from = paused ? ModelStatus.Active : ModelStatus.Paused;
        if (m.status != from) revert BadModelStatus(modelId, m.status);
        m.status = paused ? ModelStatus.Paused : ModelStatus.Active;
        emit ModelPaused(modelId, paused);
    }

    /// @notice As the seller, delist the model for good. Pending jobs still settle.
    /// @param modelId The listing.
    function delistModel(uint256 modelId) external {
        Model storage m = _sellerModel(modelId);
        m.status = ModelStatus.Delisted;
        emit ModelDelisted(modelId);
    }

    /// @notice A listing's on-chain fields.
    /// @param modelId The listing.
    /// @return The stored model.
    function getModel(uint256 modelId) external view returns (Model memory) {
        return _models[modelId];
    }

    /// @notice Current total price (seller + operator) of `rows` rows on a model.
    /// @param modelId The listing.
    /// @param rows Number of rows.
    /// @return The total price in the model's token.
    function quote(uint256 modelId, uint32 rows) external view returns (uint256) {
        Model storage m = _modelOf(modelId);
        return uint256(rows) * (uint256(m.pricePerRow) + m.operatorFeePerRow);
    }

    // ------------------------------------------------------------ evaluation keys

    /// @notice Register an evaluation key blob (by its SHA-256) to the caller, for reuse by all
    ///         its jobs. Registrations are per (caller, hash): another account registering the same
    ///         hash changes nothing for the caller.
    /// @param keyHash SHA-256 of the key blob.
    /// @param paramSet FHE parameter-set id the key was generated for.
    function registerKey(bytes32 keyHash, uint16 paramSet) external {
        EvalKey storage k = _keys[msg.sender][keyHash];
        if (keyHash == bytes32(0) || k.state != KeyState.None) revert KeyAlreadyRegistered(keyHash);
        k.state = KeyState.Registered;
        k.paramSet = paramSet;
        emit KeyRegistered(keyHash, msg.sender, paramSet);
    }

    /// @notice Revoke one of the caller's keys; its new jobs cannot use it. The caller cannot
    ///         register that hash again.
    /// @param keyHash SHA-256 of the key blob.
    function revokeKey(bytes32 keyHash) external {
        EvalKey storage k = _keys[msg.sender][keyHash];
        if (k.state != KeyState.Registered) revert NotKeyOwner(keyHash);
        k.state = KeyState.Revoked;
        emit KeyRevoked(keyHash, msg.sender);
    }

    /// @notice Whether `owner` registered the key `keyHash`, and for which parameters.
    /// @param owner The buyer.
    /// @param keyHash SHA-256 of the key blob.
    /// @return registered True while registered and not revoked.
    /// @return revoked True once revoked.
    /// @return paramSet Its FHE parameter-set id.
    function getKey(address owner, bytes32 keyHash)
        external
        view
        returns (bool registered, bool revoked, uint16 paramSet)
    {
        EvalKey memory k = _keys[owner][keyHash];
        return (k.state == KeyState.Registered, k.state == KeyState.Revoked, k.paramSet);
    }

    // ------------------------------------------------------------ internal

    function _modelOf(uint256 modelId) internal view returns (Model storage m) {
        m = _models[modelId];
        if (m.status == ModelStatus.None) revert UnknownModel(modelId);
    }

    function _sellerModel(uint256 modelId) private view returns (Model storage m) {
        m = _modelOf(modelId);
        if (m.seller != msg.sender) revert NotSeller(modelId);
        if (m.status == ModelStatus.Delisted || m.status == ModelStatus.Declined) {
            revert BadModelStatus(modelId, m.status);
        }
    }
}
