// The browser's FHE code itself (sdk/fhe compiled to WebAssembly, `make web-wasm`), run in Node:
// keys, key blobs and the input encoding of the two demo models' cards.
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseCard } from '../src/card';
import { fieldsOf } from '../src/schema';
import { sha256 } from '../src/keystore';
import { BuyerKey, initSync, needsEvaluationKey } from '../src/wasm/pkg/modelmart_wasm.js';

const card = (name: string) => parseCard(readFileSync(new URL(`./fixtures/card-${name}.json`, import.meta.url)));
const logreg = card('logreg');
const tree = card('tree');

beforeAll(() => {
  initSync({ module: readFileSync(new URL('../src/wasm/pkg/modelmart_wasm_bg.wasm', import.meta.url)) });
});

describe('blob hashes', () => {
  it('are SHA-256 in the chain\'s 0x-hex form', async () => {
    expect(await sha256(new TextEncoder().encode('abc'))).toBe('0xba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});

describe('the FHE client in WebAssembly', () => {
  it('round-trips a client key and refuses bytes that are not one', () => {
    const key = BuyerKey.generate(1);
    const again = BuyerKey.fromBytes(key.toBytes());
    expect(again.paramSet).toBe(1);
    expect(() => BuyerKey.fromBytes(new Uint8Array(100))).toThrow();
    expect(() => BuyerKey.generate(7)).toThrow(/parameter set/i);
  });

  it('knows which key each demo model needs, and makes it', () => {
    expect(needsEvaluationKey(JSON.stringify(logreg.model))).toBe(false);
    expect(needsEvaluationKey(JSON.stringify(tree.model))).toBe(true);
    const key = BuyerKey.generate(1);
    const publicKey = key.keyFor(JSON.stringify(logreg.model));
    expect(publicKey.length).toBeGreaterThan(60_000); // the compact public key, ~64 KB
    expect(publicKey.length).toBeLessThan(70_000);
  });

  it('encrypts a row of the schema into a small input and refuses partial rows', () => {
    const key = BuyerKey.generate(1);
    const fields = fieldsOf(logreg.model.schema.features);
    expect(fields).toHaveLength(30);
    const row = fields.map((f) => (f.min + f.max) / 2);
    const input = key.encrypt(JSON.stringify(logreg.model), Float64Array.from(row));
    expect(input.length).toBeLessThan(4096); // the engine issue's input target
    const two = key.encrypt(JSON.stringify(logreg.model), Float64Array.from([...row, ...row]));
    expect(two.length).toBeGreaterThan(input.length);
    expect(() => key.encrypt(JSON.stringify(logreg.model), Float64Array.from(row.slice(1)))).toThrow(/not whole rows of 30 features/);
    expect(() => key.decrypt(JSON.stringify(logreg.model), input)).toThrow();
    expect(() => key.encrypt('{"not":"a model"}', Float64Array.from(row))).toThrow(/model of the card/);
  });

  it('still encrypts for a tree card from before digit inputs (listed models keep working)', () => {
    const { encoding } = tree.model as unknown as { encoding: { low_bits?: number } };
    expect(encoding.low_bits).toBeUndefined(); // 4-bit inputs, one value per feature
    const key = BuyerKey.generate(1);
    const fields = fieldsOf(tree.model.schema.features);
    const row = Float64Array.from(fields.map((f) => (f.min + f.max) / 2));
    const input = key.encrypt(JSON.stringify(tree.model), row);
    expect(input.length).toBeGreaterThan(30 * 8);
    expect(input.length).toBeLessThan(4096);
  });
});
