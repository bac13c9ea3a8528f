// Formatting of amounts, addresses, durations, sizes and scores for display. Pure functions.

/** A token as the page knows it. */
export interface Token {
  address: `0x${string}`;
  symbol: string;
  decimals: number;
}

export const NATIVE: `0x${string}` = '0x0000000000000000000000000000000000000000';

/** `amount` (base units) in `decimals`, trimmed to at most `maxDecimals` digits after the point. */
export function formatAmount(amount: bigint, decimals: number, symbol: string, maxDecimals = 6): string {
  const negative = amount < 0n;
  const abs = negative ? -amount : amount;
  const base = 10n ** BigInt(decimals);
  const whole = abs / base;
  let frac = (abs % base).toString().padStart(decimals, '0').slice(0, Math.min(decimals, maxDecimals));
  frac = frac.replace(/0+$/, '');
  const wholeText = whole.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const text = frac ? `${wholeText}.${frac}` : wholeText;
  if (abs !== 0n && text === '0') return `< ${'0.'.padEnd(maxDecimals + 1, '0')}1 ${symbol}`;
  return `${negative ? '-' : ''}${text} ${symbol}`;
}

/** Parse a decimal text into base units of `decimals`; `null` when it is not a valid amount. */
export function parseAmount(text: string, decimals: number): bigint | null {
  const t = text.trim().replace(/,/g, '');
  const m = /^(\d+)(?:\.(\d*))?$/.exec(t);
  if (!m) return null;
  const frac = m[2] ?? '';
  if (frac.length > decimals) return null;
  return BigInt(m[1]) * 10n ** BigInt(decimals) + BigInt(frac.padEnd(decimals, '0') || '0');
}

/** `0x1234…abcd`. */
export function shortAddress(address: string): string {
  return address.length > 12 ? `${address.slice(0, 6)}…${address.slice(-4)}` : address;
}

/** `1.2 s`, `850 ms`, `3 min 20 s`, `2 h 5 min`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '—';
  if (seconds < 0.01) return `${Number((seconds * 1000).toPrecision(2))} ms`;
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds < 10 ? seconds.toFixed(1) : Math.round(seconds)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** `64.2 KB`, `29.8 MB` (powers of 1000, as file sizes are shown to people). */
export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ['KB', 'MB', 'GB'];
  let v = n;
  let i = -1;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i += 1;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/** `95.1 %`; `—` for null. */
export function formatPercent(x: number | null | undefined, digits = 1): string {
  return x == null || !Number.isFinite(x) ? '—' : `${(x * 100).toFixed(digits)} %`;
}

/** The model's post-transform, as the card's `model.post_transform` spells it. */
export type PostTransform = 'none' | 'logistic' | 'softmax';

/**
 * Class probabilities from dequantized scores, where the model defines them (logistic or softmax
 * post-transform); `null` for raw scores. A single logistic score is the probability of class 1.
 */
export function probabilities(scores: number[], post: PostTransform): number[] | null {
  if (post === 'logistic') {
    const sig = (s: number) => 1 / (1 + Math.exp(-s));
    return scores.length === 1 ? [1 - sig(scores[0]), sig(scores[0])] : scores.map(sig);
  }
  if (post === 'softmax') {
    const max = Math.max(...scores);
    const exps = scores.map((s) => Math.exp(s - max));
    const sum = exps.reduce((a, b) => a + b, 0);
    return exps.map((e) => e / sum);
  }
  return null;
}

/** A regression model's predicted value with its unit, when the card names one. */
export function formatValue(x: number, unit?: string): string {
  return unit ? `${formatNumber(x)} ${unit}` : formatNumber(x);
}

/** A number with sensible precision for scores and regression values. */
export function formatNumber(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return x.toExponential(3);
  return Number(x.toPrecision(6)).toString();
}

/** `12 s ago`, `3 min ago`, `2 h ago`, or a date. */
export function timeAgo(unixSeconds: number, nowMs = Date.now()): string {
  const s = Math.max(0, nowMs / 1000 - unixSeconds);
  if (s < 60) return `${Math.round(s)} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return new Date(unixSeconds * 1000).toISOString().slice(0, 10);
}
