// The FHE worker: runs the project's own modelmart-fhe client side (WebAssembly) off the main
// thread, so key generation, encryption and decryption never freeze the page. It holds the
// loaded client key; the page only sees its serialized form when it must store it (encrypted).

import init, { BuyerKey, nameListing, needsEvaluationKey, prepareListing, sealModel } from './wasm/pkg/modelmart_wasm.js';
import type { Reply, Request } from './fhe-protocol';

let ready: Promise<unknown> | null = null;
let key: BuyerKey | null = null;

function loaded(): BuyerKey {
  if (!key) throw new Error('no FHE key is loaded; unlock your keys first');
  return key;
}

async function handle(req: Request): Promise<{ value: unknown; transfer: Transferable[] }> {
  ready ??= init();
  await ready;
  switch (req.op) {
    case 'generate': {
      key?.free();
      key = BuyerKey.generate(req.paramSet);
      const bytes = key.toBytes();
      return { value: bytes, transfer: [bytes.buffer] };
    }
    case 'load': {
      key?.free();
      key = BuyerKey.fromBytes(req.key);
      return { value: key.paramSet, transfer: [] };
    }
    case 'keyFor': {
      const bytes = loaded().keyFor(req.model);
      return { value: bytes, transfer: [bytes.buffer] };
    }
    case 'encrypt': {
      const bytes = loaded().encrypt(req.model, req.values);
      return { value: bytes, transfer: [bytes.buffer] };
    }
    case 'decrypt':
      return { value: JSON.parse(loaded().decrypt(req.model, req.result)), transfer: [] };
    case 'needsEvaluationKey':
      return { value: needsEvaluationKey(req.model), transfer: [] };
    case 'prepareListing': {
      const p = prepareListing(req.modelFile, req.train, req.test, req.name, req.description, req.unit, req.fheRows, req.outputMode);
      const value = { card: p.card, model: p.model };
      p.free();
      return { value, transfer: [value.card.buffer, value.model.buffer] };
    }
    case 'nameListing': {
      const b = req.binding;
      const card = nameListing(req.card, b.chainId, b.market, b.seller, b.operator);
      return { value: card, transfer: [card.buffer] };
    }
    case 'seal': {
      const b = req.binding;
      const sealed = sealModel(req.model, req.operatorKey, req.cardHash, b.chainId, b.market, b.seller, b.operator);
      return { value: sealed, transfer: [sealed.buffer] };
    }
  }
}

self.onmessage = async (event: MessageEvent<Request>) => {
  const req = event.data;
  const start = performance.now();
  try {
    const { value, transfer } = await handle(req);
    const reply: Reply = { id: req.id, ok: true, value, ms: performance.now() - start };
    (self as unknown as Worker).postMessage(reply, transfer);
  } catch (e) {
    const reply: Reply = { id: req.id, ok: false, error: e instanceof Error ? e.message : String(e), ms: performance.now() - start };
    (self as unknown as Worker).postMessage(reply);
  }
};
