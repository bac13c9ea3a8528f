// Browse: every listed model with its price, operator health and live figures; search by text.

import type { ModelSummary } from '../api';
import type { App } from '../app';
import { tokenOf } from '../config';
import { explain } from '../errors';
import { formatAmount, formatDuration, formatPercent, shortAddress } from '../format';
import { h, mount, notice } from '../ui';

export function health(m: Pick<ModelSummary, 'operator_health' | 'operator_status'>): HTMLElement {
  const hl = m.operator_health;
  if (m.operator_status && m.operator_status !== 'active') return h('span', { class: 'health bad' }, `operator ${m.operator_status}`);
  if (!hl) return h('span', { class: 'health unknown' }, 'operator not checked yet');
  return hl.reachable
    ? h('span', { class: 'health good' }, `operator online${hl.latency_ms != null ? ` · ${Math.round(hl.latency_ms)} ms` : ''}`)
    : h('span', { class: 'health bad', title: hl.error ?? '' }, 'operator unreachable');
}

function tile(app: App, m: ModelSummary): HTMLElement {
  const t = tokenOf(app.cfg, m.token);
  return h('a', { class: 'tile', href: `#/model/${m.model_id}`, 'data-model': m.model_id },
    h('div', { class: 'tile-head' }, h('h3', {}, m.name ?? `Model ${m.model_id}`), h('span', { class: `badge ${m.status}` }, m.status)),
    h('p', { class: 'muted' }, m.task ?? 'task unknown', ' · seller ', shortAddress(m.seller)),
    h('p', { class: 'price' }, formatAmount(BigInt(m.price_per_row) + BigInt(m.operator_fee_per_row), t.decimals, t.symbol), h('span', { class: 'muted' }, ' per row')),
    h('p', { class: 'stats' },
      `${m.stats.jobs_total} jobs`, ' · ', m.stats.jobs_total ? `${formatPercent(m.stats.success_rate, 0)} success` : 'no jobs yet',
      m.stats.median_latency_s != null ? ` · median ${formatDuration(m.stats.median_latency_s)}` : ''),
    health(m));
}

export async function render(app: App, el: HTMLElement): Promise<void> {
  const list = h('div', { class: 'tiles', id: 'models' });
  const search = h('input', { type: 'search', id: 'search', placeholder: 'Search models by name, task or description', 'aria-label': 'Search models' });
  const onlyActive = h('input', { type: 'checkbox', id: 'only-active', checked: true });
  let timer = 0;
  let refresh = 0;
  let retries = 0;
  const load = async (quiet = false) => {
    clearTimeout(refresh);
    if (!quiet) {
      retries = 0;
      mount(list, notice('busy', 'Loading models…'));
    }
    try {
      const models = await app.api.models({ q: search.value.trim() || undefined, status: onlyActive.checked ? 'active' : undefined });
      mount(list, models.length ? models.map((m) => tile(app, m)) : notice('info', search.value ? 'No model matches this search.' : 'No model is listed yet.'));
      // names and tasks come from cards the indexer fetches and verifies in the background:
      // look again for a minute while some are missing, without a loading flash
      if (models.some((m) => m.name == null) && retries++ < 12) {
        refresh = window.setTimeout(() => list.isConnected && void load(true), 5000);
      }
    } catch (e) {
      if (!quiet) mount(list, notice('error', explain(e)));
    }
  };
  search.addEventListener('input', () => {
    clearTimeout(timer);
    timer = window.setTimeout(() => void load(), 250);
  });
  onlyActive.addEventListener('change', () => void load());
  mount(el,
    h('section', { class: 'hero' },
      h('h1', {}, 'Private inference, paid per prediction'),
      h('p', {}, 'Your data is encrypted in this browser with fully homomorphic encryption. The operator computes on ciphertexts; only you can read the result. Sellers never see your data; you never see their weights.')),
    h('div', { class: 'toolbar' }, search, h('label', { class: 'check' }, onlyActive, ' only models taking jobs')),
    list);
  await load();
}
