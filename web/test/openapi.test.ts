import { readFileSync } from 'node:fs';
import { Validator } from '@seriousme/openapi-schema-validator';
import { describe, expect, it } from 'vitest';

// The indexer's committed API document is what clients are generated from (the page's own
// types in src/abi/indexer.ts among them): it must be a valid OpenAPI document, every `$ref`
// resolving, every parameter typed.
const spec = JSON.parse(readFileSync(new URL('../../indexer/openapi.json', import.meta.url), 'utf8'));

describe('indexer/openapi.json', () => {
  it('is a valid OpenAPI 3.1 document whose references all resolve', async () => {
    const validator = new Validator();
    const res = await validator.validate(spec);
    expect(res.errors ?? []).toEqual([]);
    expect(res.valid).toBe(true);
    const refs = JSON.stringify(spec).match(/#\/components\/schemas\/[A-Za-z_]+/g) ?? [];
    const missing = [...new Set(refs)].filter((r) => !(r.split('/').pop()! in spec.components.schemas));
    expect(missing).toEqual([]);
  });

  it('types every parameter and documents errors as problem details', () => {
    for (const [path, item] of Object.entries<any>(spec.paths)) {
      for (const p of item.get.parameters ?? []) {
        expect(p.schema?.type, `${path} ${p.name}`).toBeDefined();
        if (p.name === 'limit') expect([p.schema.minimum, p.schema.maximum]).toEqual([1, 500]);
        if (p.name === 'status' || p.name === 'sort') expect(p.schema.enum?.length, `${path} ${p.name}`).toBeGreaterThan(1);
      }
      for (const [code, r] of Object.entries<any>(item.get.responses)) {
        if (Number(code) >= 400 && path !== '/healthz') {
          expect(Object.keys(r.content), `${path} ${code}`).toEqual(['application/problem+json']);
        }
        expect(r.headers?.['modelmart-api-version'], `${path} ${code}`).toBeDefined();
      }
    }
    expect(spec.info.version).toMatch(/^1\.\d+\.\d+$/);
  });
});
