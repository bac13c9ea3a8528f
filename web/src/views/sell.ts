// Sell: the connected account's listings with their figures, reprice / pause / delist, and the
// earnings held by the marketplace, withdrawn per token.

import type { ModelSummary } from '../api';
import type { App } from '../app';
import { tokenOf } from '../config';
import { explain } from '../errors';
import { formatAmount, formatDuration, formatPercent, NATIVE, parseAmount } from '../format';
import { h, mount, notice } from '../ui';
import { listForm } from './list';

async function act(app: App, out: HTMLElement, what: string, f: () => Promise<unknown>, after: () => void): Promise<void> {
  mount(out, notice('busy', `${what}: confirm in your wallet`));
  try {
    await app.ready();
    await f();
    mount(out, notice('ok', `${what}: done.`));
    after();
  } catch (e) {
    mount(out, notice('error', explain(e)));
  }
}

function modelRow(app: App, m: ModelSummary, refresh: () => void): HTMLElement {
  const t = tokenOf(app.cfg, m.token);
  const out = h('div', { class: 'row-out' });
  const price = h('input', { type: 'text', inputmode: 'decimal', 'aria-label': `New price per row of model ${m.model_id} in ${t.symbol}`, placeholder: `new price (${t.symbol})`, size: 10 });
  const w = () => app.wallet!;
  const id = BigInt(m.model_id);
  const live = m.status === 'active' || m.status === 'paused';
  return h('tr', { 'data-model': m.model_id },
    h('td', {}, h('a', { href: `#/model/${m.model_id}` }, m.name ?? `Model ${m.model_id}`)),
    h('td', {}, h('span', { class: `badge ${m.status}` }, m.status)),
    h('td', {}, formatAmount(BigInt(m.price_per_row), t.decimals, t.symbol)),
    h('td', {}, `${m.stats.jobs_total} (${m.stats.jobs_total ? formatPercent(m.stats.success_rate, 0) : '—'} ok${m.stats.median_latency_s != null ? `, ${formatDuration(m.stats.median_latency_s)}` : ''})`),
    h('td', {}, Object.entries(m.stats.earnings).map(([tok, v]) => { const x = tokenOf(app.cfg, tok); return formatAmount(BigInt(v), x.decimals, x.symbol); }).join(', ') || '—'),
    h('td', { class: 'actions' }, live ? [
      price,
      h('button', { class: 'secondary', onclick: () => {
        const v = parseAmount(price.value, t.decimals);
        if (v === null || v === 0n) return mount(out, notice('error', `Enter a price in ${t.symbol}, e.g. 0.002.`));
        void act(app, out, 'Reprice', () => app.market.write(w(), 'repriceModel', [id, v]), refresh);
      } }, 'Reprice'),
      h('button', { class: 'secondary', onclick: () => act(app, out, m.status === 'paused' ? 'Resume' : 'Pause', () => app.market.write(w(), 'setModelPaused', [id, m.status !== 'paused']), refresh) }, m.status === 'paused' ? 'Resume' : 'Pause'),
      h('button', { class: 'danger', onclick: () => confirm(`Delist model ${m.model_id}? Pending jobs still settle; it cannot be listed again.`) && act(app, out, 'Delist', () => app.market.write(w(), 'delistModel', [id]), refresh) }, 'Delist'),
    ] : '', out));
}

export async function render(app: App, el: HTMLElement): Promise<void> {
  if (!app.wallet) {
    mount(el, h('h1', {}, 'Sell'), notice('info', 'Connect your wallet to manage your models and earnings.'),
      h('button', { class: 'primary', onclick: () => app.connect().then(() => render(app, el)).catch((e) => mount(el, notice('error', explain(e)))) }, 'Connect wallet'));
    return;
  }
  const account = app.wallet.account;
  const refresh = () => window.setTimeout(() => void render(app, el), 1500);
  mount(el, h('h1', {}, 'Sell'), notice('busy', 'Loading your models and earnings…'));
  try {
    const tokens = [NATIVE, ...app.cfg.tokens.map((t) => t.address).filter((a) => a !== NATIVE)];
    const [models, balances] = await Promise.all([
      app.api.models({ seller: account }),
      Promise.all(tokens.map(async (tok) => [tok, await app.market.balanceOf(account, tok)] as const)),
    ]);
    const earnings = h('div', { class: 'earnings', id: 'earnings' }, balances.map(([tok, v]) => {
      const t = tokenOf(app.cfg, tok);
      const out = h('span', {});
      return h('div', { class: 'balance', 'data-token': t.symbol },
        h('span', { class: 'amount' }, formatAmount(v, t.decimals, t.symbol)),
        h('button', { class: 'primary', disabled: v === 0n, 'data-withdraw': t.symbol, onclick: () => act(app, out, `Withdraw ${t.symbol}`, () => app.market.write(app.wallet!, 'withdraw', [tok]), refresh) }, 'Withdraw'), out);
    }));
    mount(el, h('h1', {}, 'Sell'),
      h('section', {}, h('h2', {}, 'Earnings held for you'), h('p', { class: 'muted' }, 'Payments of completed jobs are credited here; withdraw them to your wallet at any time.'), earnings),
      h('section', {}, h('h2', {}, 'Your models'),
        models.length
          ? h('table', { class: 'mine' }, h('thead', {}, h('tr', {}, ['Model', 'Status', 'Price / row', 'Jobs', 'Earned', ''].map((c) => h('th', {}, c)))), h('tbody', {}, models.map((m) => modelRow(app, m, refresh))))
          : notice('info', 'You have no listings yet.')),
      await listForm(app, refresh));
  } catch (e) {
    mount(el, h('h1', {}, 'Sell'), notice('error', explain(e)));
  }
}
