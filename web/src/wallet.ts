// Browser wallets: discovered with EIP-6963 (falling back to `window.ethereum`), spoken to over
// EIP-1193, wrapped in viem clients. Knows the marketplace's chain and asks to switch to it.

import { createWalletClient, custom, type EIP1193Provider, type WalletClient, type Chain, getAddress } from 'viem';

/** An announced wallet (EIP-6963). */
export interface WalletInfo {
  uuid: string;
  name: string;
  icon: string;
  rdns: string;
}

export interface Discovered {
  info: WalletInfo;
  provider: EIP1193Provider;
}

/** Wallets that announce themselves within `ms` (EIP-6963), plus a legacy injected one. */
export function discover(ms = 400): Promise<Discovered[]> {
  const found = new Map<string, Discovered>();
  const onAnnounce = (event: Event) => {
    const detail = (event as CustomEvent<Discovered>).detail;
    if (detail?.info?.uuid && detail.provider) found.set(detail.info.uuid, detail);
  };
  window.addEventListener('eip6963:announceProvider', onAnnounce);
  window.dispatchEvent(new Event('eip6963:requestProvider'));
  return new Promise((resolve) =>
    setTimeout(() => {
      window.removeEventListener('eip6963:announceProvider', onAnnounce);
      const list = [...found.values()];
      const legacy = (window as unknown as { ethereum?: EIP1193Provider }).ethereum;
      if (list.length === 0 && legacy) {
        list.push({ info: { uuid: 'injected', name: 'Browser wallet', icon: '', rdns: 'injected' }, provider: legacy });
      }
      resolve(list);
    }, ms),
  );
}

/** A connected wallet. */
export class Wallet {
  readonly client: WalletClient;
  private listeners: (() => void)[] = [];

  private constructor(
    readonly info: WalletInfo,
    readonly provider: EIP1193Provider,
    public account: `0x${string}`,
    public chainId: number,
    readonly chain: Chain,
  ) {
    this.client = createWalletClient({ account, chain, transport: custom(provider) });
    provider.on?.('accountsChanged', (accounts: string[]) => {
      if (accounts[0]) this.account = getAddress(accounts[0]);
      this.changed();
    });
    provider.on?.('chainChanged', (id: string) => {
      this.chainId = Number(id);
      this.changed();
    });
  }

  /** Ask the wallet for an account (the wallet shows its own prompt). */
  static async connect(found: Discovered, chain: Chain): Promise<Wallet> {
    const accounts = (await found.provider.request({ method: 'eth_requestAccounts' })) as string[];
    if (!accounts?.[0]) throw new Error('The wallet returned no account.');
    const chainId = Number(await found.provider.request({ method: 'eth_chainId' }));
    return new Wallet(found.info, found.provider, getAddress(accounts[0]), chainId, chain);
  }

  /** Called when the account or chain changes. */
  onChange(f: () => void): void {
    this.listeners.push(f);
  }

  private changed(): void {
    for (const f of this.listeners) f();
  }

  /** Whether the wallet is on the marketplace's chain. */
  get onRightChain(): boolean {
    return this.chainId === this.chain.id;
  }

  /** Switch the wallet to the marketplace's chain, adding it first when the wallet lacks it. */
  async switchChain(): Promise<void> {
    const hex = `0x${this.chain.id.toString(16)}`;
    try {
      await this.provider.request({ method: 'wallet_switchEthereumChain', params: [{ chainId: hex }] });
    } catch (e) {
      if ((e as { code?: number }).code !== 4902) throw e;
      await this.provider.request({
        method: 'wallet_addEthereumChain',
        params: [{ chainId: hex, chainName: this.chain.name, nativeCurrency: this.chain.nativeCurrency, rpcUrls: [...this.chain.rpcUrls.default.http] }],
      });
    }
    this.chainId = Number(await this.provider.request({ method: 'eth_chainId' }));
    if (!this.onRightChain) throw wrongNetwork(this.chain);
  }

  /** Throw a wrong-network error unless the wallet is on the marketplace's chain. */
  requireChain(): void {
    if (!this.onRightChain) throw wrongNetwork(this.chain, this.chainId);
  }

  /** Sign a text message (EIP-191). */
  signMessage(message: string): Promise<`0x${string}`> {
    return this.client.signMessage({ account: this.account, message });
  }

  /** Sign EIP-712 typed data (`eth_signTypedData_v4`). */
  signTypedData(request: Parameters<WalletClient['signTypedData']>[0]): Promise<`0x${string}`> {
    return this.client.signTypedData(request);
  }
}

function wrongNetwork(chain: Chain, current?: number): Error {
  const e = new Error(
    `Your wallet is on ${current === undefined ? 'another network' : `chain ${current}`}; this marketplace runs on ${chain.name} (chain ${chain.id}). Switch networks in your wallet.`,
  );
  e.name = 'WrongNetwork';
  return e;
}
