// Messages between the page and the FHE worker.

/** A request to the worker; `model` is the card's `model` object as JSON text. */
export type Request = { id: number } & (
  | { op: 'generate'; paramSet: number }
  | { op: 'load'; key: Uint8Array }
  | { op: 'keyFor'; model: string }
  | { op: 'encrypt'; model: string; values: Float64Array }
  | { op: 'decrypt'; model: string; result: Uint8Array }
  | { op: 'needsEvaluationKey'; model: string }
  | { op: 'prepareListing'; modelFile: Uint8Array; train: string; test: string; name: string; description: string; unit: string; fheRows: number; outputMode: number }
  | { op: 'nameListing'; card: Uint8Array; binding: SealBinding }
  | { op: 'seal'; model: Uint8Array; operatorKey: Uint8Array; cardHash: Uint8Array; binding: SealBinding }
);

/** A model compiled for a listing: the card blob and the compiled model (sealed before upload). */
export interface Prepared {
  card: Uint8Array;
  model: Uint8Array;
}

/** The worker's answer, with the time the operation took inside the worker. */
export type Reply = { id: number; ms: number } & ({ ok: true; value: unknown } | { ok: false; error: string });

/** A decrypted, decoded result (`modelmart_wasm::Decoded`). */
export interface Decoded {
  raw: number[][];
  scores: number[][];
  labels: string[] | null;
}

/** Whom a sealed model is for: a copier's re-listing under another seller does not open. */
export interface SealBinding {
  chainId: number;
  market: Uint8Array;
  seller: Uint8Array;
  operator: Uint8Array;
}
