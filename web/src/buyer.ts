// The buyer's path in the browser, mirroring `sdk/client/src/buyer.rs`: unlock (or make) the
// FHE key, register and upload the key the model needs once, encrypt and upload the rows, pay
// and request, wait, download and hash-check the result, decrypt and decode.

import { blobLimits } from './abi/protocol';
import { record, type App } from './app';
import * as blobs from './blobs';
import type { ModelCard } from './card';
import type { Decoded } from './fhe-protocol';
import { loadClientKey, loadKeyBlob, put, sha256, storeClientKey, storeKeyBlob } from './keystore';
import type { JobEnd, Listing } from './market';
import type { Wallet } from './wallet';

/** Largest result a buyer downloads (the result blob kind's limit). */
export const MAX_RESULT_BYTES = blobLimits.result;

/** A job this browser requested (kept in IndexedDB so its result can be found again). */
export interface LocalJob {
  jobId: string;
  modelId: string;
  account: string;
  rows: number;
  requestedAt: number;
}

/** Progress reports: a step text and, for uploads, a fraction. */
export type Progress = (step: string, fraction?: number) => void;

/**
 * Load this account's FHE key into the worker, making and storing one on first use; nothing to
 * do when the worker already holds it.
 */
export async function unlock(app: App, w: Wallet, paramSet: number, progress: Progress): Promise<void> {
  if (app.holdsKey(w, paramSet)) return;
  progress('Sign the unlock message in your wallet (free, nothing is sent)');
  const sealing = await app.sealingKey(w);
  const stored = await loadClientKey(sealing, w.account, w.chainId, paramSet);
  if (stored) {
    const t = await app.fhe.load(stored);
    record('key_load_ms', t.ms);
    app.keyLoaded(w, paramSet);
    return;
  }
  progress('Generating your FHE keys in this browser');
  const key = await app.fhe.generate(paramSet);
  record('keygen_ms', key.ms);
  await storeClientKey(sealing, w.account, w.chainId, paramSet, key.value);
  app.keyLoaded(w, paramSet);
}

/**
 * The key the model needs (evaluation key for a model that bootstraps, public key for a leveled
 * one), made once, uploaded to the operator and registered on chain; returns its hash.
 */
export async function ensureKey(app: App, w: Wallet, card: ModelCard, listing: Listing, endpoint: string, progress: Progress): Promise<`0x${string}`> {
  const kind = card.model.bootstraps_per_row > 0 ? 'eval' : 'public';
  let blob = await loadKeyBlob(w.account, w.chainId, listing.paramSet, kind);
  if (!blob) {
    progress(kind === 'eval' ? 'Making your evaluation key (needed once for models that bootstrap)' : 'Making your public key (results are re-randomized with it)');
    const made = await app.fhe.keyFor(JSON.stringify(card.model));
    record(kind === 'eval' ? 'eval_key_ms' : 'public_key_ms', made.ms);
    blob = { hash: await sha256(made.value), bytes: made.value };
    await storeKeyBlob(w.account, w.chainId, listing.paramSet, kind, blob);
  }
  if (!(await blobs.has(endpoint, blob.hash))) {
    const label = kind === 'eval' ? 'Uploading your evaluation key' : 'Uploading your public key';
    await blobs.put(endpoint, 'eval_key', blob.hash, blob.bytes, (f) => progress(label, f));
  }
  const state = await app.market.keyState(w.account, blob.hash);
  if (state.revoked) {
    throw new Error(`You revoked your key ${blob.hash.slice(0, 10)}…; clear this site's stored keys to make a new one.`);
  }
  if (!state.registered) {
    progress('Confirm the key registration in your wallet (once per key)');
    await app.market.registerKey(w, blob.hash, listing.paramSet);
  }
  return blob.hash;
}

/** Encrypt the rows in the worker and upload them; returns the input hash. */
export async function uploadRows(app: App, card: ModelCard, endpoint: string, rows: number[][], progress: Progress): Promise<`0x${string}`> {
  progress('Encrypting your data in this browser');
  const input = await app.fhe.encrypt(JSON.stringify(card.model), rows.flat());
  record('encrypt_ms', input.ms);
  const hash = await sha256(input.value);
  await blobs.put(endpoint, 'input', hash, input.value, (f) => progress('Uploading the encrypted data', f));
  return hash;
}

/** Download a completed job's result, check its hash, decrypt and decode it. */
export async function fetchResult(app: App, card: ModelCard, endpoint: string, resultHash: `0x${string}`): Promise<Decoded> {
  const bytes = await blobs.get(endpoint, resultHash, MAX_RESULT_BYTES);
  const decoded = await app.fhe.decrypt(JSON.stringify(card.model), bytes);
  record('decrypt_ms', decoded.ms);
  return decoded.value;
}

/** Everything from key to request; returns the job id. The caller waits and decrypts. */
export async function buy(app: App, card: ModelCard, listing: Listing, endpoint: string, rows: number[][], maxTotal: bigint, progress: Progress): Promise<{ jobId: bigint; deadline: bigint; block: bigint }> {
  const w = await app.ready();
  await unlock(app, w, listing.paramSet, progress);
  const keyHash = await ensureKey(app, w, card, listing, endpoint, progress);
  const inputHash = await uploadRows(app, card, endpoint, rows, progress);
  const price = await app.market.quote(listing.modelId, rows.length);
  if (price > maxTotal) {
    const e = new Error('The price changed since you saw it and is now above what you agreed to pay. Nothing was charged; review the new price.');
    e.name = 'PriceChanged';
    throw e;
  }
  const job = await app.market.request(w, { modelId: listing.modelId, inputHash, keyHash, rows: rows.length, maxTotalPrice: maxTotal }, listing.token, price, (s) => progress(s));
  await put('jobs', job.jobId.toString(), { jobId: job.jobId.toString(), modelId: listing.modelId.toString(), account: w.account, rows: rows.length, requestedAt: Date.now() } satisfies LocalJob);
  return job;
}

/** A job's end in words (for rejected and expired jobs). */
export type { JobEnd };
