// A model: its verified card, live figures, and the buy form (encryption in this browser).

import type { ModelDetail } from '../api';
import type { App } from '../app';
import * as buyer from '../buyer';
import * as blobs from '../blobs';
import { cardElsewhere, labelsOf, MAX_CARD_BYTES, parseCard, type ModelCard } from '../card';
import { tokenOf } from '../config';
import { explain, reasonText } from '../errors';
import { formatAmount, formatDuration, formatPercent, shortAddress } from '../format';
import type { Listing } from '../market';
import { payable, type Shown } from '../pricing';
import { checkRow, fieldsOf, splitCsvRow, type Field } from '../schema';
import { facts, h, mount, notice, progressBar } from '../ui';
import { health } from './models';
import { resultView } from './result';

/**
 * Listing from the chain, card from the operator, checked against the listing's card hash. The
 * indexer's copy (also returned, `null` when it is unreachable) only says which block to read.
 */
export async function loadModel(app: App, id: bigint): Promise<{ listing: Listing; endpoint: string; card: ModelCard; detail: ModelDetail | null }> {
  const detail = await app.api.model(Number(id)).catch(() => null);
  const listedBlock = detail?.history?.find((c) => c.event === 'ModelListed')?.block_number;
  const listing = await app.market.listing(id, listedBlock === undefined ? undefined : BigInt(listedBlock));
  const endpoint = await app.market.endpoint(listing.operator);
  const card = parseCard(await blobs.get(endpoint, listing.cardHash, MAX_CARD_BYTES));
  if (card.model.param_set !== listing.paramSet) throw new Error(`The card is for parameter set ${card.model.param_set}; the listing says ${listing.paramSet}.`);
  const elsewhere = cardElsewhere(card, app.cfg.chainId, app.cfg.market, listing.seller, listing.operator);
  if (elsewhere) throw new Error(`Not offered: ${elsewhere}.`);
  return { listing, endpoint, card, detail };
}

function cardView(app: App, listing: Listing, card: ModelCard, summary: Awaited<ReturnType<App['api']['model']>> | null): HTMLElement {
  const t = tokenOf(app.cfg, listing.token);
  const a = card.accuracy;
  const metric = a.metric === 'accuracy' ? (x: number) => formatPercent(x) : (x: number) => x.toFixed(3);
  const labels = labelsOf(card);
  return h('section', { class: 'card-view' },
    h('p', {}, card.description),
    facts([
      ['Price', h('span', {}, h('strong', { id: 'price-per-row' }, `${formatAmount(listing.pricePerRow + listing.operatorFeePerRow, t.decimals, t.symbol)} per row`), h('span', { class: 'muted' }, ` (seller ${formatAmount(listing.pricePerRow, t.decimals, t.symbol)} + operator ${formatAmount(listing.operatorFeePerRow, t.decimals, t.symbol)})`))],
      ['Task', `${card.task}${labels ? ` into ${labels.join(', ')}` : card.unit ? `, value in ${card.unit}` : ''}`],
      [`${a.metric === 'accuracy' ? 'Accuracy' : 'R²'} (test split, ${a.test_rows} rows)`, `${metric(a.float)} as trained · ${metric(a.quantized)} as it runs encrypted`],
      ['Encrypted = clear', a.fhe_agreement == null ? 'not measured' : `${formatPercent(a.fhe_agreement)} of ${a.fhe_rows} test rows`],
      ['Expected compute', `${formatDuration(card.cost.expected_ms_per_row / 1000)} per row${card.cost.bootstraps_per_row ? ` (${card.cost.bootstraps_per_row} bootstraps)` : ' (no bootstrapping)'}`],
      ['Keys you register once', card.cost.evaluation_key ? 'an evaluation key (~30 MB upload, made in this browser)' : 'a public key (64 KB) to re-randomize your results'],
      ['What a result reveals', card.leakage],
      ['Result ciphertexts', card.result_privacy],
      ['Inputs', `${card.model.schema.features.length} features · up to ${listing.maxRows} rows per job`],
      ['Operator', h('span', {}, shortAddress(listing.operator), ' ', summary ? health(summary) : '')],
      ['Served', summary ? `${summary.stats.jobs_total} jobs · ${summary.stats.jobs_total ? formatPercent(summary.stats.success_rate, 0) : '—'} success · median ${summary.stats.median_latency_s != null ? formatDuration(summary.stats.median_latency_s) : '—'}` : '—'],
    ]));
}

function formView(fields: Field[]): { el: HTMLElement; inputs: HTMLInputElement[]; csv: HTMLTextAreaElement } {
  const inputs = fields.map((f, i) =>
    h('input', { type: 'number', id: `f-${i}`, name: f.name, step: 'any', placeholder: f.placeholder, required: true, 'aria-describedby': `h-${i}` }));
  const csv = h('textarea', { id: 'csv', rows: 3, placeholder: 'Or paste one CSV line per row (values in the order above; a trailing label column is ignored)' });
  const el = h('fieldset', { class: 'features' },
    h('legend', {}, 'Your data (stays in this browser; only its encryption is sent)'),
    h('div', { class: 'grid' }, fields.map((f, i) =>
      h('label', { class: 'field', for: `f-${i}` }, h('span', {}, f.label), inputs[i], h('small', { id: `h-${i}`, class: 'muted' }, `${f.min} … ${f.max}`)))),
    h('label', { class: 'field wide', for: 'csv' }, h('span', {}, 'Rows as CSV'), csv));
  return { el, inputs, csv };
}

/** Rows from the CSV box when filled, else the form; marks fields with errors and warnings. */
function readRows(fields: Field[], inputs: HTMLInputElement[], csv: HTMLTextAreaElement): number[][] {
  const lines = csv.value.split('\n').map((l) => l.trim()).filter(Boolean);
  if (lines.length) {
    return lines.map((line, n) => {
      const check = checkRow(fields, splitCsvRow(fields, line));
      if (!check.values) throw new Error(`CSV line ${n + 1}: ${Object.entries(check.errors).map(([k, v]) => `${k} ${v}`).join(', ')}`);
      return check.values;
    });
  }
  const check = checkRow(fields, inputs.map((i) => i.value));
  fields.forEach((f, i) => {
    inputs[i].setCustomValidity(check.errors[f.name] ?? '');
    inputs[i].classList.toggle('warn', f.name in check.warnings);
    inputs[i].title = check.warnings[f.name] ?? '';
  });
  if (!check.values) throw new Error(`Fill in every feature: ${Object.keys(check.errors).slice(0, 3).join(', ')}${Object.keys(check.errors).length > 3 ? '…' : ''} ${Object.keys(check.errors).length > 1 ? 'are' : 'is'} missing or not a number.`);
  return [check.values];
}

export async function render(app: App, el: HTMLElement, id: bigint): Promise<void> {
  mount(el, notice('busy', 'Loading the model and checking its card…'));
  let m: Awaited<ReturnType<typeof loadModel>>;
  let summary = null;
  try {
    m = await loadModel(app, id);
    summary = m.detail;
  } catch (e) {
    mount(el, h('a', { href: '#/' }, '← All models'), notice('error', explain(e)));
    return;
  }
  const { listing, endpoint, card } = m;
  const t = tokenOf(app.cfg, listing.token);
  const fields = fieldsOf(card.model.schema.features);
  const form = formView(fields);
  const status = h('div', { id: 'status', 'aria-live': 'polite' });
  const quote = h('p', { id: 'quote', class: 'quote' });
  const button = h('button', { class: 'primary big', id: 'buy', type: 'submit' }, 'Encrypt and buy');
  const rowsNow = () => { try { return readRows(fields, form.inputs, form.csv).length; } catch { return 1; } };
  let shown: Shown | null = null;
  const showQuote = (rows: number, total: bigint) => {
    shown = { rows, total };
    mount(quote, 'You pay ', h('strong', {}, formatAmount(total, t.decimals, t.symbol)), ` for ${rows} row${rows > 1 ? 's' : ''}, escrowed until the result is posted (refunded if the operator rejects the job or misses its deadline).`);
  };
  const refreshQuote = async () => {
    try {
      const rows = rowsNow();
      showQuote(rows, await app.market.quote(listing.modelId, rows));
    } catch (e) {
      mount(quote, notice('error', explain(e)));
    }
  };
  form.csv.addEventListener('change', refreshQuote);
  const submit = async (ev: Event) => {
    ev.preventDefault();
    button.disabled = true;
    const progress: buyer.Progress = (step, f) => mount(status, f === undefined ? notice('busy', step) : progressBar(step, f));
    try {
      const rows = readRows(fields, form.inputs, form.csv);
      if (rows.length > listing.maxRows) throw new Error(`This model takes at most ${listing.maxRows} rows per job.`);
      if (listing.status !== 'active') throw new Error(`This model is ${listing.status}; it takes no jobs now.`);
      const fresh = await app.market.quote(listing.modelId, rows.length);
      const seen = shown as Shown | null;
      if (!payable(seen, rows.length, fresh)) {
        // never pay a price the buyer has not seen: show the new one and let them press again
        showQuote(rows.length, fresh);
        const was = seen ? ` (you saw ${formatAmount(seen.total, t.decimals, t.symbol)} for ${seen.rows} row${seen.rows > 1 ? 's' : ''})` : '';
        mount(status, notice('info', `The price is now ${formatAmount(fresh, t.decimals, t.symbol)} for ${rows.length} row${rows.length > 1 ? 's' : ''}${was}. Nothing was charged; press "Encrypt and buy" again to pay it.`));
        return;
      }
      const job = await buyer.buy(app, card, listing, endpoint, rows, (seen as Shown).total, progress);
      const started = Date.now();
      const end = await app.market.waitJob(job.jobId, job.block, () => progress(`Job ${job.jobId} requested; the operator is computing on your encrypted data (${Math.round((Date.now() - started) / 1000)} s)`));
      await showEnd(app, status, card, endpoint, job.jobId, end, t);
    } catch (e) {
      mount(status, notice('error', explain(e)));
    } finally {
      button.disabled = false;
    }
  };
  mount(el,
    h('a', { href: '#/' }, '← All models'),
    h('h1', {}, card.name, ' ', h('span', { class: `badge ${listing.status}` }, listing.status)),
    cardView(app, listing, card, summary),
    h('form', { class: 'buy', id: 'buy-form', onsubmit: submit, novalidate: true }, form.el, quote, button, status));
  await refreshQuote();
}

/** Show how a job ended: the decrypted result, or the rejection or expiry with its refund. */
export async function showEnd(app: App, status: HTMLElement, card: ModelCard, endpoint: string, jobId: bigint, end: buyer.JobEnd, t: { decimals: number; symbol: string }): Promise<void> {
  if (end.status === 'completed') {
    mount(status, notice('busy', 'Downloading, checking and decrypting the result'));
    const decoded = await buyer.fetchResult(app, card, endpoint, end.resultHash);
    mount(status, notice('ok', `Job ${jobId} done. Result hash checked against the chain (${end.resultHash.slice(0, 10)}…) and decrypted in this browser.`), resultView(card, decoded));
  } else if (end.status === 'rejected') {
    mount(status, notice('error', `The operator rejected job ${jobId}: ${reasonText(end.reason)}. You were refunded ${formatAmount(end.refund, t.decimals, t.symbol)}.`));
  } else if (end.refund > 0n) {
    mount(status, notice('error', `Job ${jobId} expired; you were refunded ${formatAmount(end.refund, t.decimals, t.symbol)} in full (the operator's stake was slashed; the slash is burned).`));
  } else {
    const claim = h('button', { class: 'primary', id: 'claim-refund' }, 'Claim the refund');
    claim.addEventListener('click', async () => {
      claim.disabled = true;
      try {
        const w = await app.ready();
        const receipt = await app.market.write(w, 'refundExpired', [jobId]);
        const e = await app.market.jobEnd(jobId, receipt.blockNumber);
        await showEnd(app, status, card, endpoint, jobId, e ?? end, t);
      } catch (e) {
        status.append(notice('error', explain(e)));
        claim.disabled = false;
      }
    });
    mount(status, notice('error', `Job ${jobId} passed its deadline without a result. Claim your full refund (the operator's stake is slashed).`, ' ', claim));
  }
}
