import { describe, expect, it } from 'vitest';
import { payable, suggestPrice } from '../src/pricing';

const m = (task: string, token: string, status: string, price: number) => ({ task, token, status, price_per_row: String(price) });

describe('price suggestion', () => {
  const eth = '0x0000000000000000000000000000000000000000';
  const usd = '0xE7F1725E7734CE288F8367E1BB143E90BB3F0512';
  it('is the median of active listings with the same task and token', () => {
    const models = [m('classification', eth, 'active', 300), m('classification', eth, 'active', 100), m('classification', eth, 'active', 200), m('classification', eth, 'delisted', 1), m('regression', eth, 'active', 9), m('classification', usd, 'active', 5)];
    expect(suggestPrice(models, 'classification', eth)).toEqual({ price: 200n, from: 3 });
    expect(suggestPrice(models, 'classification', usd.toLowerCase())).toEqual({ price: 5n, from: 1 });
  });
  it('averages the middle two of an even count', () => {
    expect(suggestPrice([m('t', eth, 'active', 100), m('t', eth, 'active', 301)], 't', eth)).toEqual({ price: 200n, from: 2 });
  });
  it('has nothing to say without comparable listings', () => {
    expect(suggestPrice([m('t', eth, 'paused', 100)], 't', eth)).toBeNull();
  });
});

describe('paying a quote', () => {
  it('pays only what the buyer saw, for the rows they saw', () => {
    expect(payable({ rows: 2, total: 100n }, 2, 100n)).toBe(true);
    expect(payable({ rows: 2, total: 100n }, 2, 90n)).toBe(true); // cheaper: the maximum still holds
    expect(payable({ rows: 2, total: 100n }, 2, 101n)).toBe(false); // dearer: show it first
    expect(payable({ rows: 2, total: 100n }, 3, 100n)).toBe(false); // other rows: another price
    expect(payable(null, 1, 1n)).toBe(false); // no quote shown yet
  });
});
