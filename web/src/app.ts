// The app's shared state: configuration, the index API, the contract, the FHE worker and the
// connected wallet (with its unlocked key store), and the wallet button in the header.

import { Api } from './api';
import { chainOf, type Config } from './config';
import { explain } from './errors';
import { Fhe } from './fhe';
import { shortAddress } from './format';
import { sealingKey, unlockRequest } from './keystore';
import { Market } from './market';
import { h, mount } from './ui';
import { discover, Wallet } from './wallet';

/** Timings of in-browser FHE work, for the benchmark (read by the browser tests). */
export const timings: Record<string, number[]> = {};
export function record(what: string, ms: number): void {
  (timings[what] ??= []).push(ms);
  (window as unknown as { __modelmartTimings: typeof timings }).__modelmartTimings = timings;
}

export class App {
  readonly api: Api;
  readonly market: Market;
  readonly fhe = new Fhe();
  wallet: Wallet | null = null;
  private sealing = new Map<string, CryptoKey>();
  /** `chain:account:paramSet` of the client key the FHE worker holds. */
  private loadedKey: string | null = null;
  private listeners: (() => void)[] = [];

  constructor(readonly cfg: Config) {
    this.api = new Api(cfg.indexer);
    this.market = new Market(cfg);
  }

  /** Called when the wallet connects or its account or chain changes. */
  onWallet(f: () => void): void {
    this.listeners.push(f);
  }

  private walletChanged(): void {
    for (const f of this.listeners) f();
  }

  /** Connect a wallet (the first announced one, or the one the person picks). */
  async connect(): Promise<Wallet> {
    if (this.wallet) return this.wallet;
    const found = await discover();
    if (found.length === 0) throw new Error('No browser wallet was found. Install one (any EIP-1193 wallet) and reload the page.');
    const pick = found.length === 1 ? found[0] : await choose(found);
    this.wallet = await Wallet.connect(pick, chainOf(this.cfg));
    this.wallet.onChange(() => this.walletChanged());
    this.walletChanged();
    return this.wallet;
  }

  /** The connected wallet on the marketplace's chain (asks to connect and to switch). */
  async ready(): Promise<Wallet> {
    const w = await this.connect();
    if (!w.onRightChain) await w.switchChain();
    return w;
  }

  /** The key-store sealing key of the connected account (one signature per session). */
  async sealingKey(w: Wallet): Promise<CryptoKey> {
    const id = `${w.chainId}:${w.account}`;
    let key = this.sealing.get(id);
    if (!key) {
      const signature = await w.signTypedData({ account: w.account, ...unlockRequest(w.account, w.chainId, location.origin) });
      key = await sealingKey(signature);
      this.sealing.set(id, key);
    }
    return key;
  }

  /** Whether the FHE worker holds `w`'s client key for `paramSet`. */
  holdsKey(w: Wallet, paramSet: number): boolean {
    return this.loadedKey === `${w.chainId}:${w.account.toLowerCase()}:${paramSet}`;
  }

  /** Note that the FHE worker now holds `w`'s client key for `paramSet`. */
  keyLoaded(w: Wallet, paramSet: number): void {
    this.loadedKey = `${w.chainId}:${w.account.toLowerCase()}:${paramSet}`;
  }

  /** Forget which key the worker holds (the stored keys were deleted). */
  forgetLoadedKey(): void {
    this.loadedKey = null;
  }
}

function choose(found: Awaited<ReturnType<typeof discover>>): Promise<(typeof found)[number]> {
  return new Promise((resolve, reject) => {
    const dialog = h('dialog', { class: 'wallets', 'aria-label': 'Choose a wallet' },
      h('h2', {}, 'Choose a wallet'),
      found.map((f) => h('button', { class: 'wallet-choice', onclick: () => { dialog.close(); dialog.remove(); resolve(f); } }, f.info.icon ? h('img', { src: f.info.icon, alt: '', width: 24, height: 24 }) : null, f.info.name)),
      h('button', { class: 'secondary', onclick: () => { dialog.close(); dialog.remove(); reject(Object.assign(new Error('No wallet chosen.'), { code: 4001 })); } }, 'Cancel'));
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** The wallet area of the header. */
export function walletButton(app: App, el: HTMLElement): void {
  let error = '';
  const attempt = (f: () => Promise<unknown>) => () => {
    error = '';
    f().catch((e) => {
      error = explain(e);
      render();
    });
  };
  const problem = () => (error ? h('span', { class: 'wallet-error', id: 'wallet-error', role: 'alert' }, error) : null);
  const render = () => {
    const w = app.wallet;
    if (!w) {
      mount(el, problem(), h('button', { class: 'primary', id: 'connect', onclick: attempt(() => app.connect()) }, 'Connect wallet'));
      return;
    }
    mount(el,
      problem(),
      w.onRightChain
        ? h('span', { class: 'chain ok', title: `chain ${w.chainId}` }, app.cfg.chainName)
        : h('button', { class: 'chain wrong', id: 'switch-network', onclick: attempt(() => w.switchChain()) }, `Wrong network (${w.chainId}) — switch`),
      h('span', { class: 'account', id: 'account', title: w.account }, shortAddress(w.account)));
  };
  app.onWallet(render);
  render();
}
