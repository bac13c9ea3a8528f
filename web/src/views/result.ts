// A decrypted result, readable: the label (or value) per row, with scores and probabilities
// (a label-only listing has neither).

import { labelsOf, type ModelCard } from '../card';
import type { Decoded } from '../fhe-protocol';
import { formatNumber, formatPercent, formatValue, probabilities } from '../format';
import { h } from '../ui';

export function resultView(card: ModelCard, d: Decoded): HTMLElement {
  const labels = labelsOf(card);
  return h('div', { class: 'result', id: 'result' },
    d.raw.map((raw, i) => {
      const scores = d.scores[i] ?? [];
      const probs = probabilities(scores, card.model.post_transform);
      const headline = d.labels ? d.labels[i] : formatValue(scores[0], card.unit);
      // one row per class (or output): its score when the model has one, its probability
      const rows: [string, number | null, number | null][] =
        scores.length === 1 && labels?.length === 2
          ? [[labels[0], null, probs?.[0] ?? null], [labels[1], scores[0], probs?.[1] ?? null]]
          : scores.map((s, k) => [labels?.[k] ?? `output ${k}`, s, probs?.[k] ?? null]);
      return h('div', { class: 'result-row', 'data-row': i, 'data-raw': JSON.stringify(raw) },
        d.raw.length > 1 ? h('p', { class: 'muted' }, `Row ${i + 1}`) : null,
        h('p', { class: 'prediction' }, h('span', { class: 'muted' }, d.labels ? 'Prediction: ' : 'Predicted value: '), h('strong', { class: 'label' }, headline)),
        // a label-only listing returns the class and nothing else: there is no score to show
        rows.length === 0
          ? h('p', { class: 'muted' }, 'Label-only listing: the result holds the predicted class and nothing else.')
          : h('table', { class: 'scores' },
            h('thead', {}, h('tr', {}, h('th', {}, d.labels ? 'class' : 'output'), h('th', {}, 'score'), probs ? h('th', {}, 'probability') : null)),
            h('tbody', {}, rows.map(([name, s, p]) => h('tr', {}, h('td', {}, name), h('td', {}, s == null ? '—' : formatNumber(s)), probs ? h('td', {}, formatPercent(p)) : null)))),
        h('details', {}, h('summary', {}, 'Exact integer scores'), h('code', {}, JSON.stringify(raw))));
    }));
}
