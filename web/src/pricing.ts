// Price suggestion for a new listing: what similar models sell at now. Pure.

/** A listed model as the suggestion needs it. */
export interface Priced {
  task?: string | null;
  token: string;
  status: string;
  price_per_row: string;
}

/**
 * The median seller price per row of active listings with the same task and token; `null` when
 * there is none to compare with.
 */
export function suggestPrice(models: Priced[], task: string, token: string): { price: bigint; from: number } | null {
  const prices = models
    .filter((m) => m.status === 'active' && m.task === task && m.token.toLowerCase() === token.toLowerCase())
    .map((m) => BigInt(m.price_per_row))
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (prices.length === 0) return null;
  const mid = Math.floor(prices.length / 2);
  const price = prices.length % 2 ? prices[mid] : (prices[mid - 1] + prices[mid]) / 2n;
  return { price, from: prices.length };
}

/** What the buyer saw: the total for a number of rows. */
export interface Shown {
  rows: number;
  total: bigint;
}

/**
 * Whether a fresh quote may be paid without showing it again: only when it is for the rows the
 * buyer saw priced and no higher than what they saw. The request then carries the shown total as
 * its maximum (and a permit signs that maximum), so the buyer never pays more than they agreed.
 */
export function payable(shown: Shown | null, rows: number, fresh: bigint): boolean {
  return shown !== null && shown.rows === rows && fresh <= shown.total;
}
