import { describe, expect, it } from 'vitest';
import { cardElsewhere, parseCard } from '../src/card';
import { checkRow, fieldsOf, splitCsvRow } from '../src/schema';

const features = [
  { name: 'mean_radius', min: 6.98, max: 28.11, bits: 4 },
  { name: 'mean_texture', min: 9.71, max: 39.28, bits: 4 },
  { name: 'worst_area', min: 185.2, max: 4254, bits: 6 },
];

describe('schema to form', () => {
  it('makes one field per feature with its range and a readable step', () => {
    const f = fieldsOf(features);
    expect(f.map((x) => x.name)).toEqual(['mean_radius', 'mean_texture', 'worst_area']);
    expect(f[0].label).toBe('mean radius');
    expect([f[0].min, f[0].max]).toEqual([6.98, 28.11]);
    expect(f[0].step).toBe(1); // (28.11 - 6.98) / 15 = 1.41
    expect(f[2].step).toBe(10); // (4254 - 185.2) / 63 = 64.6
    expect(Number(f[1].placeholder)).toBeCloseTo(24.5, 0);
  });
  it('accepts a full row, warns outside the calibrated range, refuses blanks and non-numbers', () => {
    const f = fieldsOf(features);
    expect(checkRow(f, ['10', '20', '500'])).toEqual({ values: [10, 20, 500], errors: {}, warnings: {} });
    const out = checkRow(f, ['30', '20', '500']);
    expect(out.values).toEqual([30, 20, 500]);
    expect(out.warnings.mean_radius).toMatch(/reads it as 28.11/);
    const bad = checkRow(f, ['', 'abc', 'Infinity']);
    expect(bad.values).toBeNull();
    expect(bad.errors).toEqual({ mean_radius: 'required', mean_texture: 'not a number', worst_area: 'not a number' });
  });
  it('splits pasted CSV lines, dropping a trailing label column', () => {
    const f = fieldsOf(features);
    expect(splitCsvRow(f, '13.68, 16.33 ,575.5')).toEqual(['13.68', '16.33', '575.5']);
    expect(splitCsvRow(f, '13.68\t16.33\t575.5\t1')).toEqual(['13.68', '16.33', '575.5']);
    expect(() => splitCsvRow(f, '1,2')).toThrow(/2 values; this model takes 3/);
  });
});

describe('cards', () => {
  const card = {
    format: 'modelmart-card', version: 1, name: 'x', description: '', task: 'classification', output_mode: 'scores', leakage: '', result_privacy: '',
    accuracy: { metric: 'accuracy', float: 0.95, quantized: 0.95, fhe_agreement: 1, fhe_rows: 2, test_rows: 143 },
    cost: { bootstraps_per_row: 0, expected_ms_per_row: 0.5, evaluation_key: false },
    model: { param_set: 1, schema: { features }, task: { kind: 'classification', labels: ['malignant', 'benign'] }, post_transform: 'logistic', outputs: 1, bootstraps_per_row: 0 },
  };
  const bytes = (x: unknown) => new TextEncoder().encode(JSON.stringify(x));
  it('reads a card', () => expect(parseCard(bytes(card)).model.schema.features).toHaveLength(3));
  it('refuses what is not a usable card, in words', () => {
    expect(() => parseCard(new TextEncoder().encode('{'))).toThrow(/not valid JSON/);
    expect(() => parseCard(bytes({ ...card, format: 'x' }))).toThrow(/not a ModelMart model card/);
    expect(() => parseCard(bytes({ ...card, model: { ...card.model, schema: { features: [] } } }))).toThrow(/no input schema/);
    expect(() => parseCard(bytes({ ...card, model: { ...card.model, schema: { features: [{ name: 'a', min: 2, max: 1, bits: 4 }] } } }))).toThrow(/no valid range/);
    expect(() => parseCard(new Uint8Array(256 * 1024 + 1))).toThrow(/over the 262144-byte limit/);
  });
});

describe('a card names its listing', () => {
  const card = parseCard(new TextEncoder().encode(JSON.stringify({
    format: 'modelmart-card', version: 1, model: { schema: { features }, task: { kind: 'regression' } },
    listing: { chain_id: 31337, market: '0x' + '01'.repeat(20), seller: '0x' + '02'.repeat(20), operator: '0x' + '03'.repeat(20) },
  })));
  const [market, seller, operator] = ['01', '02', '03'].map((b) => '0x' + b.toUpperCase().repeat(20));
  it('accepts the listing it names (addresses in any case)', () => {
    expect(cardElsewhere(card, 31337, market, seller, operator)).toBeNull();
  });
  it('tells a copy from the original', () => {
    expect(cardElsewhere(card, 31337, market, '0x' + '09'.repeat(20), operator)).toMatch(/copy/);
    expect(cardElsewhere(card, 1, market, seller, operator)).toMatch(/another market/);
    expect(cardElsewhere(card, 31337, market, seller, '0x' + '09'.repeat(20))).toMatch(/operator/);
    expect(cardElsewhere({ ...card, listing: undefined }, 31337, market, seller, operator)).toMatch(/no listing/);
  });
});
