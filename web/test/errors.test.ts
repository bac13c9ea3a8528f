import { describe, expect, it } from 'vitest';
import { explain, reasonText, revertName } from '../src/errors';

describe('errors in words', () => {
  it('a rejected wallet request', () => {
    expect(explain({ code: 4001, message: 'User rejected the request.' })).toMatch(/You rejected the request in your wallet/);
    expect(explain({ name: 'TransactionExecutionError', cause: { name: 'UserRejectedRequestError', code: 4001 } })).toMatch(/rejected/);
  });
  it('wrong network and missing funds', () => {
    expect(explain({ name: 'ChainMismatchError', message: 'The current chain of the wallet (id: 1) does not match the target chain' })).toMatch(/another network/);
    expect(explain({ shortMessage: 'x', details: 'insufficient funds for gas * price + value' })).toMatch(/cannot pay for this transaction and its gas/);
  });
  it('contract errors by name, from viem data or from the message', () => {
    const viemLike = { name: 'ContractFunctionExecutionError', cause: { name: 'ContractFunctionRevertedError', data: { errorName: 'PriceAboveMax', args: [2n, 1n] } } };
    expect(revertName(viemLike)).toBe('PriceAboveMax');
    expect(explain(viemLike)).toMatch(/price changed/);
    expect(explain({ message: 'The contract function "withdraw" reverted with the following custom error:\n NothingToWithdraw(0x0)' })).toMatch(/nothing to withdraw/);
    expect(explain({ cause: { data: { errorName: 'ERC20InsufficientBalance' } } })).toMatch(/token balance is lower/);
    expect(explain({ cause: { data: { errorName: 'SomethingNew' } } })).toMatch(/refused the transaction \(SomethingNew\)/);
  });
  it('network failures and anything else', () => {
    expect(explain(new TypeError('Failed to fetch'))).toMatch(/could not be reached/);
    expect(explain(new Error('plain words'))).toBe('plain words');
    expect(explain('a string')).toBe('a string');
  });
  it('operator reason codes', () => {
    expect(reasonText(2)).toMatch(/key named by the job was not found/);
    expect(reasonText(104)).toMatch(/not the model its card describes/);
    expect(reasonText(999)).toBe('reason code 999');
  });
});
