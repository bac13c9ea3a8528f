// My jobs: every job of the connected account (from the index), with results decrypted again on
// demand in this browser, refunds claimable, and the stored keys forgettable.

import type { App } from '../app';
import * as buyer from '../buyer';
import { tokenOf } from '../config';
import { explain, reasonText } from '../errors';
import { formatAmount, timeAgo } from '../format';
import { forgetClientKeys } from '../keystore';
import { h, mount, notice } from '../ui';
import { loadModel, showEnd } from './model';

export async function render(app: App, el: HTMLElement): Promise<void> {
  if (!app.wallet) {
    const connect = h('button', { class: 'primary', onclick: () => app.connect().then(() => render(app, el)).catch((e) => mount(el, notice('error', explain(e)))) }, 'Connect wallet');
    mount(el, h('h1', {}, 'My jobs'), notice('info', 'Connect your wallet to see your jobs.'), connect);
    return;
  }
  const w = app.wallet;
  mount(el, h('h1', {}, 'My jobs'), notice('busy', 'Loading your jobs…'));
  let jobs;
  try {
    jobs = await app.api.jobs({ buyer: w.account });
  } catch (e) {
    mount(el, h('h1', {}, 'My jobs'), notice('error', explain(e)));
    return;
  }
  const rows = jobs.map((j) => {
    const t = tokenOf(app.cfg, j.token);
    const paid = BigInt(j.seller_amount) + BigInt(j.operator_amount);
    const out = h('div', { class: 'job-out' });
    const now = Date.now() / 1000;
    let action: HTMLElement | string = '';
    if (j.status === 'completed') {
      action = h('button', { class: 'secondary', 'data-decrypt': j.job_id, onclick: async (ev: Event) => {
        (ev.currentTarget as HTMLButtonElement).disabled = true;
        try {
          const m = await loadModel(app, BigInt(j.model_id));
          const ready = await app.ready();
          await buyer.unlock(app, ready, m.listing.paramSet, (s) => mount(out, notice('busy', s)));
          await showEnd(app, out, m.card, m.endpoint, BigInt(j.job_id), { status: 'completed', resultHash: j.result_hash as `0x${string}` }, t);
        } catch (e) {
          mount(out, notice('error', explain(e)));
        }
      } }, 'Decrypt result');
    } else if (j.status === 'requested' && now > j.deadline) {
      action = h('button', { class: 'secondary', onclick: async () => {
        try {
          const m = await loadModel(app, BigInt(j.model_id));
          await showEnd(app, out, m.card, m.endpoint, BigInt(j.job_id), { status: 'expired', refund: 0n }, t);
        } catch (e) {
          mount(out, notice('error', explain(e)));
        }
      } }, 'Refund…');
    }
    const detail = j.status === 'rejected' ? `rejected: ${reasonText(j.reason ?? 0)}; refunded ${formatAmount(BigInt(j.refund ?? '0'), t.decimals, t.symbol)}`
      : j.status === 'expired' ? `expired; refunded ${formatAmount(BigInt(j.refund ?? '0'), t.decimals, t.symbol)}`
      : j.status;
    return h('tr', { 'data-job': j.job_id },
      h('td', {}, `#${j.job_id}`), h('td', {}, h('a', { href: `#/model/${j.model_id}` }, `model ${j.model_id}`)),
      h('td', {}, `${j.rows}`), h('td', {}, formatAmount(paid, t.decimals, t.symbol)), h('td', {}, timeAgo(j.requested_at)),
      h('td', {}, h('span', { class: `badge ${j.status}` }, detail)), h('td', {}, action, out));
  });
  const forget = h('button', { class: 'danger', onclick: async () => {
    if (!confirm('Forget your FHE keys in this browser? Results of past jobs can then no longer be decrypted here.')) return;
    await forgetClientKeys(w.account, w.chainId);
    app.forgetLoadedKey();
    mount(el, notice('ok', 'Your keys were deleted from this browser.'));
  } }, 'Forget my keys in this browser');
  mount(el, h('h1', {}, 'My jobs'),
    jobs.length ? h('table', { class: 'jobs' }, h('thead', {}, h('tr', {}, ['Job', 'Model', 'Rows', 'Paid', 'Requested', 'Status', ''].map((c) => h('th', {}, c)))), h('tbody', {}, rows)) : notice('info', 'No jobs yet.'),
    h('p', { class: 'muted' }, 'Your FHE key is kept in this browser, sealed with your wallet signature. Without it, results cannot be decrypted.'), forget);
}
