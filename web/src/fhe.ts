// The page's handle on the FHE worker: one promise per operation, with its time in the worker.

import type { Decoded, Prepared, Reply, Request, SealBinding } from './fhe-protocol';

type Op = Request extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

/** An operation's value and how long the worker spent on it. */
export interface Timed<T> {
  value: T;
  ms: number;
}

export class Fhe {
  private worker: Worker;
  private next = 1;
  private pending = new Map<number, (reply: Reply) => void>();

  constructor() {
    this.worker = new Worker(new URL('./fhe.worker.ts', import.meta.url), { type: 'module' });
    this.worker.onmessage = (event: MessageEvent<Reply>) => {
      const done = this.pending.get(event.data.id);
      this.pending.delete(event.data.id);
      done?.(event.data);
    };
    this.worker.onerror = (event) => {
      for (const done of this.pending.values()) done({ id: 0, ok: false, error: `the FHE worker failed: ${event.message}`, ms: 0 });
      this.pending.clear();
    };
  }

  private call<T>(op: Op, transfer: Transferable[] = []): Promise<Timed<T>> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, (reply) => (reply.ok ? resolve({ value: reply.value as T, ms: reply.ms }) : reject(new Error(reply.error))));
      this.worker.postMessage({ ...op, id }, transfer);
    });
  }

  /** A fresh client key, loaded in the worker; returns its serialized (secret) bytes. */
  generate(paramSet: number): Promise<Timed<Uint8Array>> {
    return this.call({ op: 'generate', paramSet });
  }

  /** Load a stored client key into the worker. */
  load(key: Uint8Array): Promise<Timed<number>> {
    return this.call({ op: 'load', key });
  }

  /** The key blob the card's model needs registered (evaluation key or public key). */
  keyFor(model: string): Promise<Timed<Uint8Array>> {
    return this.call({ op: 'keyFor', model });
  }

  /** Encrypt rows (flattened, in schema order) into an input blob. */
  encrypt(model: string, values: number[]): Promise<Timed<Uint8Array>> {
    const v = Float64Array.from(values);
    return this.call({ op: 'encrypt', model, values: v }, [v.buffer]);
  }

  /** Compile a model file on calibration data for an output mode (the listing's on-chain code:
   * 0 scores, 1 rounded scores, 2 label only) and write its card (seller). */
  prepareListing(modelFile: Uint8Array, train: string, test: string, name: string, description: string, unit: string, fheRows: number, outputMode: number): Promise<Timed<Prepared>> {
    return this.call({ op: 'prepareListing', modelFile, train, test, name, description, unit, fheRows, outputMode });
  }

  /** Seal a compiled model to an operator's X25519 key, bound to the card hash and to the
   * listing's chain, market, seller and operator. */
  /** The card naming the listing it is published for (the one to upload and list). */
  nameListing(card: Uint8Array, binding: SealBinding): Promise<Timed<Uint8Array>> {
    return this.call({ op: 'nameListing', card, binding });
  }

  seal(model: Uint8Array, operatorKey: Uint8Array, cardHash: Uint8Array, binding: SealBinding): Promise<Timed<Uint8Array>> {
    return this.call({ op: 'seal', model, operatorKey, cardHash, binding });
  }

  /** Decrypt and decode a result blob. */
  decrypt(model: string, result: Uint8Array): Promise<Timed<Decoded>> {
    return this.call({ op: 'decrypt', model, result });
  }
}
