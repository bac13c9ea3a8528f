import { describe, expect, it } from 'vitest';
import { Market } from '../src/market';

const cfg = { chainId: 31337, chainName: 'anvil', rpcUrl: 'http://127.0.0.1:1', market: '0x5FbDB2315678afecb367f032d93F642f64180aa3', indexer: 'http://127.0.0.1:1', tokens: [] } as const;
const cardHash = `0x${'ab'.repeat(32)}` as const;
const terms = { seller: '0x1', operator: '0x2', token: '0x3', pricePerRow: 5n, operatorFeePerRow: 1n, paramSet: 1, maxRows: 8, status: 2 };

/** A market whose RPC answers `getModel` with `terms` and logs only in `listedIn`. */
function market(listedIn: bigint) {
  const queries: { fromBlock?: bigint; toBlock?: bigint }[] = [];
  const reader = {
    readContract: async () => terms,
    getContractEvents: async (q: { fromBlock?: bigint; toBlock?: bigint }) => {
      queries.push({ fromBlock: q.fromBlock, toBlock: q.toBlock });
      const from = q.fromBlock ?? 0n;
      const to = q.toBlock ?? 1_000_000n;
      return from <= listedIn && listedIn <= to ? [{ args: { listing: { cardHash } } }] : [];
    },
  };
  const m = new Market({ ...cfg, tokens: [] });
  Object.assign(m, { reader });
  return { m, queries };
}

describe('reading a listing', () => {
  it('reads only the block the indexer names', async () => {
    const { m, queries } = market(812_345n);
    const l = await m.listing(7n, 812_345n);
    expect(l.cardHash).toBe(cardHash);
    expect(l.status).toBe('active');
    expect(queries).toEqual([{ fromBlock: 812_345n, toBlock: 812_345n }]);
  });
  it('fails in words when that block does not list the model', async () => {
    const { m } = market(812_345n);
    await expect(m.listing(7n, 812_344n)).rejects.toThrow(/block 812344, but that block does not list it/);
  });
  it('scans the chain only without a hint', async () => {
    const { m, queries } = market(3n);
    expect((await m.listing(7n)).cardHash).toBe(cardHash);
    expect(queries).toEqual([{ fromBlock: 0n, toBlock: undefined }]);
  });
});
