// List a model from the browser: compile it here on the seller's calibration data (the card's
// accuracy and cost), seal it to the chosen operator, upload card and sealed model, list on
// chain, and wait for the operator to accept it.

import type { App } from '../app';
import { outputModes } from '../abi/protocol';
import * as blobs from '../blobs';
import { parseCard, type ModelCard } from '../card';
import { tokenOf } from '../config';
import { explain, reasonText } from '../errors';
import { formatAmount, formatDuration, formatPercent, parseAmount, shortAddress } from '../format';
import { sha256 } from '../keystore';
import { suggestPrice } from '../pricing';
import { facts, h, mount, notice } from '../ui';


const hexBytes = (hex: string) => new Uint8Array((hex.replace(/^0x/, '').match(/.{2}/g) ?? []).map((b) => parseInt(b, 16)));

async function fileBytes(input: HTMLInputElement, what: string): Promise<Uint8Array> {
  const f = input.files?.[0];
  if (!f) throw new Error(`Choose the ${what}.`);
  return new Uint8Array(await f.arrayBuffer());
}

export async function listForm(app: App, refresh: () => void): Promise<HTMLElement> {
  const operators = await app.api.operators();
  const modelFile = h('input', { type: 'file', id: 'list-model', accept: '.onnx,.json' });
  const train = h('input', { type: 'file', id: 'list-train', accept: '.csv,text/csv' });
  const test = h('input', { type: 'file', id: 'list-test', accept: '.csv,text/csv' });
  const name = h('input', { type: 'text', id: 'list-name', maxlength: 120, placeholder: 'e.g. Tumour classifier' });
  const description = h('textarea', { id: 'list-description', rows: 2, placeholder: 'What it predicts, for whom, trained on what' });
  const unit = h('input', { type: 'text', id: 'list-unit', maxlength: 32, placeholder: 'e.g. mmHg (regression only)' });
  const fheRows = h('input', { type: 'number', id: 'list-fhe-rows', min: 0, max: 64, value: 4 });
  // the listing's on-chain output mode; every mode's results are sanitized
  const output = h('select', { id: 'list-output' },
    h('option', { value: '0' }, 'Scores (linear models)'),
    h('option', { value: '1' }, 'Rounded scores (5 bits)'),
    h('option', { value: '2' }, 'Label only (classifiers, up to 16 classes)'));
  const operator = h('select', { id: 'list-operator' }, operators.map((o) => h('option', { value: o.address }, `${shortAddress(o.address)} · ${o.endpoint} · ${o.active_models} models`)));
  const token = h('select', { id: 'list-token' }, app.cfg.tokens.map((t) => h('option', { value: t.address }, t.symbol)));
  const price = h('input', { type: 'text', id: 'list-price', inputmode: 'decimal', placeholder: 'seller price per row' });
  const fee = h('input', { type: 'text', id: 'list-fee', inputmode: 'decimal', placeholder: 'operator fee per row' });
  const maxRows = h('input', { type: 'number', id: 'list-max-rows', min: 1, max: 1024, value: 64 });
  const deadline = h('input', { type: 'number', id: 'list-deadline', min: 60, value: 600 });
  const out = h('div', { id: 'list-status', 'aria-live': 'polite' });
  const listButton = h('button', { class: 'primary', id: 'list-submit', type: 'button', disabled: true }, 'Seal and list');
  let prepared: { card: Uint8Array; model: Uint8Array; parsed: ModelCard } | null = null;

  const field = (label: string, input: HTMLElement, help = '') => h('label', { class: 'field' }, h('span', {}, label), input, help ? h('small', { class: 'muted' }, help) : null);
  const compile = async () => {
    listButton.disabled = true;
    prepared = null;
    mount(out, notice('busy', 'Compiling and measuring the model in this browser…'));
    try {
      if (!name.value.trim()) throw new Error('Give the model a name.');
      const p = await app.fhe.prepareListing(await fileBytes(modelFile, 'model file'), new TextDecoder().decode(await fileBytes(train, 'training CSV')), new TextDecoder().decode(await fileBytes(test, 'test CSV')), name.value.trim(), description.value.trim(), unit.value.trim(), Number(fheRows.value) || 0, Number(output.value));
      const parsed = parseCard(p.value.card);
      prepared = { ...p.value, parsed };
      const t = tokenOf(app.cfg, token.value);
      const s = suggestPrice(await app.api.models({ status: 'active' }), parsed.task, token.value);
      if (s && !price.value) price.value = formatAmount(s.price, t.decimals, '').trim();
      const a = parsed.accuracy;
      const metric = a.metric === 'accuracy' ? (x: number) => formatPercent(x) : (x: number) => x.toFixed(3);
      mount(out, notice('ok', `Compiled in ${formatDuration(p.ms / 1000)}. Check the figures, set the price and list.`), facts([
        ['Task', parsed.task],
        ['Output', parsed.leakage],
        [`${a.metric === 'accuracy' ? 'Accuracy' : 'R²'} on your test split`, `${metric(a.float)} as trained · ${metric(a.quantized)} as it runs encrypted`],
        ['Encrypted = clear', a.fhe_agreement == null ? 'not checked (0 rows)' : `${formatPercent(a.fhe_agreement)} of ${a.fhe_rows} rows`],
        ['Compute per row', `${formatDuration(parsed.cost.expected_ms_per_row / 1000)}${parsed.cost.bootstraps_per_row ? ` (${parsed.cost.bootstraps_per_row} bootstraps; buyers register a ~30 MB evaluation key)` : ' (no bootstrapping)'}`],
        ['Price suggestion', s ? `${formatAmount(s.price, t.decimals, t.symbol)} per row (median of ${s.from} active ${parsed.task} listing${s.from > 1 ? 's' : ''} in ${t.symbol})` : `no active ${parsed.task} listing in ${t.symbol} to compare with`],
        ['Results', parsed.result_privacy],
      ]));
      listButton.disabled = false;
    } catch (e) {
      mount(out, notice('error', explain(e)));
    }
  };
  const list = async () => {
    if (!prepared) return;
    listButton.disabled = true;
    const step = (s: string) => mount(out, notice('busy', s));
    try {
      const w = await app.ready();
      const t = tokenOf(app.cfg, token.value);
      const p = parseAmount(price.value, t.decimals);
      const f = parseAmount(fee.value || '0', t.decimals);
      if (p === null || p === 0n) throw new Error(`Enter a price per row in ${t.symbol}.`);
      if (f === null) throw new Error(`Enter the operator fee per row in ${t.symbol} (0 is allowed).`);
      const op = await app.market.operator(operator.value as `0x${string}`);
      if (!op.active) throw new Error('This operator is not active; choose another.');
      const terms = await app.market.operatorTerms(operator.value as `0x${string}`);
      if (f < terms.minFeePerRow) throw new Error(`This operator charges at least ${formatAmount(terms.minFeePerRow, t.decimals, t.symbol)} per row; raise the operator fee.`);
      if (Number(deadline.value) < terms.minJobDeadline) throw new Error(`This operator needs a job deadline of at least ${terms.minJobDeadline} s.`);
      if (Number(maxRows.value) > terms.maxRowsPerJob) throw new Error(`This operator takes at most ${terms.maxRowsPerJob} rows per job.`);
      // the card names this listing (chain, market, seller, operator): a copy listed by anyone
      // else is declined by the operator
      const binding = { chainId: w.chainId, market: hexBytes(app.cfg.market), seller: hexBytes(w.account), operator: hexBytes(operator.value as `0x${string}`) };
      const card = (await app.fhe.nameListing(prepared.card, binding)).value;
      const cardHash = await sha256(card);
      step('Uploading the card');
      await blobs.put(op.endpoint, 'card', cardHash, card);
      step('Sealing the model to the operator (only it can open it)');
      const sealed = (await app.fhe.seal(prepared.model, hexBytes(op.x25519Key), hexBytes(cardHash), binding)).value;
      const sealedHash = await sha256(sealed);
      await blobs.put(op.endpoint, 'sealed_model', sealedHash, sealed, (x) => step(`Uploading the sealed model (${Math.round(x * 100)} %)`));
      step('Confirm the listing in your wallet');
      const id = await app.market.listModel(w, { operator: operator.value as `0x${string}`, token: token.value as `0x${string}`, pricePerRow: p, operatorFeePerRow: f, cardHash, sealedModelHash: sealedHash, paramSet: prepared.parsed.model.param_set, maxRows: Number(maxRows.value), jobDeadline: Number(deadline.value), outputMode: outputModes.indexOf(prepared.parsed.output_mode) });
      for (let i = 0; i < 120; i++) {
        const status = await app.market.modelStatus(id);
        if (status === 'active') {
          mount(out, notice('ok', `Model ${id} is listed and its operator accepted it.`), ' ', h('a', { href: `#/model/${id}`, id: 'listed-model' }, 'Open its page'));
          refresh();
          return;
        }
        if (status === 'declined') {
          const detail = await app.api.model(Number(id)).catch(() => null);
          throw new Error(`The operator declined model ${id}${detail?.decline_reason ? `: ${reasonText(detail.decline_reason)}` : ''}.`);
        }
        step(`Listed as model ${id}; waiting for the operator to open and accept it (${i} s)`);
        await new Promise((r) => setTimeout(r, 1000));
      }
      throw new Error(`Model ${id} is listed but its operator has not answered in 2 minutes; check "Your models" later.`);
    } catch (e) {
      mount(out, notice('error', explain(e)));
      listButton.disabled = false;
    }
  };
  listButton.addEventListener('click', list);
  // a card is compiled for one output mode: changing it asks for a new compile
  output.addEventListener('change', () => {
    prepared = null;
    listButton.disabled = true;
    mount(out, notice('info', 'Output changed: compile and measure again.'));
  });
  return h('section', { id: 'list-form' }, h('h2', {}, 'List a model'),
    h('p', { class: 'muted' }, 'The model is compiled and measured in this browser. Its weights are sealed to the operator you choose and never published; buyers see only the card.'),
    h('div', { class: 'grid' },
      field('Model (ONNX or ModelMart JSON)', modelFile), field('Training CSV (calibration)', train, 'header of feature names, label last'), field('Test CSV (accuracy)', test),
      field('Name', name), field('Unit of the predicted value', unit, 'regression models; leave empty for classifiers'), field('What a result reveals', output, "a tree's or network's full scores cannot be sanitized"), field('Rows checked encrypted', fheRows, 'slow for models that bootstrap'), field('Operator', operator)),
    h('label', { class: 'field wide' }, h('span', {}, 'Description'), description),
    h('p', {}, h('button', { class: 'secondary', id: 'list-compile', type: 'button', onclick: compile }, 'Compile and measure')),
    h('div', { class: 'grid' }, field('Token', token), field('Your price per row', price), field('Operator fee per row', fee), field('Max rows per job', maxRows), field('Job deadline (s)', deadline)),
    listButton, out);
}
