// Every error a person can meet, in words. Pure: works on the error objects viem, the wallet,
// fetch and the worker produce, without importing them.

import { reasons } from './abi/protocol';

/** What each contract error means to the person who caused it. */
const CONTRACT_ERRORS: Record<string, string> = {
  PriceAboveMax: 'The price changed since you saw it and is now above what you agreed to pay. Nothing was charged; review the new price and try again.',
  BadModelStatus: 'This model is not accepting jobs right now (paused, delisted or not yet accepted by its operator).',
  UnknownModel: 'There is no model with this id.',
  InvalidRows: 'The number of rows is zero or above what this model accepts per job.',
  KeyParamsMismatch: 'Your FHE key was made for other parameters than this model uses.',
  NotKeyOwner: 'The evaluation key named in this job is not registered to your account.',
  KeyAlreadyRegistered: 'This key is already registered.',
  OperatorNotActive: "The model's operator is not active (unbonding or under-staked); jobs cannot be sent to it.",
  TokenNotAllowed: 'This token is not allowed on the marketplace.',
  InvalidListing: 'A listing field is out of range (price, fee, rows or deadline).',
  NotSeller: 'Only the seller of this model can do this.',
  NothingToWithdraw: 'There is nothing to withdraw in this token.',
  DeadlineNotReached: 'The job is still within its deadline; a refund is possible only after it passes.',
  JobNotPending: 'This job is already settled.',
  TransferShortfall: 'The token delivered less than the price (fee-on-transfer tokens are not supported).',
  BadNativeValue: 'The amount of ETH sent does not match the price.',
  ERC20InsufficientBalance: 'Your token balance is lower than the price.',
  ERC20InsufficientAllowance: 'The marketplace is not allowed to take this much of your token. Approve it, or sign a permit, and try again.',
  ERC2612ExpiredSignature: 'The payment permit expired before the transaction was mined. Try again.',
  ERC2612InvalidSigner: 'The payment permit was not signed by your account.',
};

interface ErrorLike {
  name?: string;
  code?: number;
  message?: string;
  shortMessage?: string;
  details?: string;
  data?: { errorName?: string; args?: readonly unknown[] };
  cause?: unknown;
}

/** Walk an error's `cause` chain. */
function* chain(err: unknown): Generator<ErrorLike> {
  let e: unknown = err;
  for (let depth = 0; e && typeof e === 'object' && depth < 10; depth += 1) {
    yield e as ErrorLike;
    e = (e as ErrorLike).cause;
  }
}

/** The custom error a reverted call or transaction named, if any. */
export function revertName(err: unknown): string | null {
  for (const e of chain(err)) {
    if (e.data?.errorName) return e.data.errorName;
    const m = /reverted with the following (?:custom )?(?:error|reason):\s*\n?\s*([A-Za-z0-9_]+)/.exec(e.message ?? '');
    if (m) return m[1];
  }
  return null;
}

/** The message to show for `err`. */
export function explain(err: unknown): string {
  for (const e of chain(err)) {
    if (e.code === 4001 || e.name === 'UserRejectedRequestError') {
      return 'You rejected the request in your wallet. Nothing was signed or sent.';
    }
    if (e.code === 4902) return 'Your wallet does not know this network. Add it in the wallet and try again.';
    if (e.name === 'ChainMismatchError' || /does not match the target chain/.test(e.message ?? '')) {
      return 'Your wallet is on another network. Switch to the marketplace network and try again.';
    }
    if (/insufficient funds/i.test(e.details ?? e.message ?? '')) {
      return 'Your ETH balance cannot pay for this transaction and its gas.';
    }
    if (e.name === 'WrongNetwork') return e.message ?? 'Wrong network.';
  }
  const name = revertName(err);
  if (name) return CONTRACT_ERRORS[name] ?? `The contract refused the transaction (${name}).`;
  for (const e of chain(err)) {
    if (e.name === 'TypeError' && /fetch/i.test(e.message ?? '')) {
      return 'A service of the marketplace could not be reached. Check your connection and try again.';
    }
  }
  const first = chain(err).next().value;
  return first?.shortMessage ?? first?.message ?? String(err);
}

/** Why an operator rejected a job or declined a listing (its on-chain reason code). */
export function reasonText(code: number): string {
  return reasons[code] ?? `reason code ${code}`;
}
