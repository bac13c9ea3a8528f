import { describe, expect, it } from 'vitest';
import { formatAmount, formatBytes, formatDuration, formatNumber, formatPercent, formatValue, parseAmount, probabilities, shortAddress, timeAgo } from '../src/format';

describe('amounts', () => {
  it('formats base units with grouping and trimmed decimals', () => {
    expect(formatAmount(1_200_000_000_000_000n, 18, 'ETH')).toBe('0.0012 ETH');
    expect(formatAmount(600_000n, 6, 'mUSD')).toBe('0.6 mUSD');
    expect(formatAmount(1_234_567_000_000n, 6, 'mUSD')).toBe('1,234,567 mUSD');
    expect(formatAmount(0n, 18, 'ETH')).toBe('0 ETH');
    expect(formatAmount(-5_000_000n, 6, 'mUSD')).toBe('-5 mUSD');
  });
  it('never shows a non-zero amount as zero', () => {
    expect(formatAmount(1n, 18, 'ETH')).toBe('< 0.000001 ETH');
  });
  it('parses what it formats, and refuses what is not an amount', () => {
    expect(parseAmount('0.002', 18)).toBe(2_000_000_000_000_000n);
    expect(parseAmount('1,000.5', 6)).toBe(1_000_500_000n);
    expect(parseAmount('7', 6)).toBe(7_000_000n);
    expect(parseAmount('0.0000001', 6)).toBeNull();
    expect(parseAmount('-1', 6)).toBeNull();
    expect(parseAmount('1e3', 6)).toBeNull();
    expect(parseAmount('', 6)).toBeNull();
  });
});

describe('other formats', () => {
  it('shortens addresses', () => expect(shortAddress('0x90F79bf6EB2c4f870365E785982E1f101E93b906')).toBe('0x90F7…b906'));
  it('formats durations', () => {
    expect(formatDuration(0.45)).toBe('450 ms');
    expect(formatDuration(0.0005)).toBe('0.5 ms');
    expect(formatDuration(1.04)).toBe('1.0 s');
    expect(formatDuration(42)).toBe('42 s');
    expect(formatDuration(200)).toBe('3 min 20 s');
    expect(formatDuration(7500)).toBe('2 h 5 min');
    expect(formatDuration(-1)).toBe('—');
  });
  it('formats sizes, percents and numbers', () => {
    expect(formatBytes(595)).toBe('595 B');
    expect(formatBytes(65_736)).toBe('66 KB');
    expect(formatBytes(29_800_000)).toBe('30 MB');
    expect(formatBytes(1_500)).toBe('1.5 KB');
    expect(formatPercent(0.9510)).toBe('95.1 %');
    expect(formatPercent(null)).toBe('—');
    expect(formatNumber(3.14159265)).toBe('3.14159');
    expect(formatValue(152.04, 'progression score')).toBe('152.04 progression score');
    expect(formatValue(152.04)).toBe('152.04');
    expect(formatNumber(0.00001234)).toBe('1.234e-5');
  });
  it('says how long ago', () => {
    const now = 1_000_000_000_000;
    expect(timeAgo(now / 1000 - 5, now)).toBe('5 s ago');
    expect(timeAgo(now / 1000 - 300, now)).toBe('5 min ago');
    expect(timeAgo(now / 1000 - 7200, now)).toBe('2 h ago');
  });
});

describe('probabilities', () => {
  it('turns one logistic score into two class probabilities', () => {
    const [p0, p1] = probabilities([0], 'logistic')!;
    expect(p0).toBeCloseTo(0.5);
    expect(p1).toBeCloseTo(0.5);
    expect(probabilities([4], 'logistic')![1]).toBeGreaterThan(0.98);
  });
  it('normalizes softmax scores, stable for large ones', () => {
    const p = probabilities([1000, 1000, 999], 'softmax')!;
    expect(p.reduce((a, b) => a + b)).toBeCloseTo(1);
    expect(p[0]).toBeCloseTo(p[1]);
    expect(p[2]).toBeLessThan(p[0]);
  });
  it('gives none for raw scores', () => expect(probabilities([1, 2], 'none')).toBeNull());
});
