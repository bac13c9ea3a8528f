// Where the marketplace lives: served as `/config.json` by `modelmart dev` (and by any host of
// the built page), so one build runs against any deployment.

import { defineChain, type Chain } from 'viem';
import type { Token } from './format';

export interface Config {
  chainId: number;
  chainName: string;
  rpcUrl: string;
  market: `0x${string}`;
  indexer: string;
  tokens: Token[];
}

export async function loadConfig(url = '/config.json'): Promise<Config> {
  let res: Response;
  try {
    res = await fetch(url, { cache: 'no-store' });
  } catch {
    throw new Error(`The marketplace configuration (${url}) could not be loaded. Is \`modelmart dev\` running?`);
  }
  if (!res.ok) throw new Error(`The marketplace configuration (${url}) answered ${res.status}.`);
  return (await res.json()) as Config;
}

export function chainOf(cfg: Config): Chain {
  return defineChain({
    id: cfg.chainId,
    name: cfg.chainName,
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [cfg.rpcUrl] } },
  });
}

/** The token with `address` (the native coin for the zero address). */
export function tokenOf(cfg: Config, address: string): Token {
  const t = cfg.tokens.find((x) => x.address.toLowerCase() === address.toLowerCase());
  return t ?? { address: address as `0x${string}`, symbol: `${address.slice(0, 6)}…`, decimals: 18 };
}
