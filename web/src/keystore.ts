// The buyer's FHE keys in this browser: IndexedDB, the client key sealed with AES-GCM under a
// key derived (HKDF-SHA-256) from a wallet signature, so another page, extension or person with
// the disk but not the wallet cannot read it. Public key blobs (evaluation / public key) and the
// jobs this browser requested are kept next to it, in the clear (the operator sees them anyway).

const DB = 'modelmart';
const VERSION = 1;

/**
 * The EIP-712 request a wallet signs to unlock the keys (its signature never leaves the page).
 * It names this site's origin and the chain, and the wallet shows both: a signature another site
 * asks for carries that site's origin and derives a different key, so it opens nothing here.
 */
export function unlockRequest(account: `0x${string}`, chainId: number, origin: string) {
  return {
    domain: { name: 'ModelMart key store', version: '1', chainId },
    types: {
      Unlock: [
        { name: 'purpose', type: 'string' },
        { name: 'origin', type: 'string' },
        { name: 'account', type: 'address' },
      ],
    },
    primaryType: 'Unlock' as const,
    message: {
      purpose: 'Unlock my ModelMart FHE keys in this browser. This signature stays in the browser: it costs nothing and sends nothing.',
      origin,
      account,
    },
  };
}

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, VERSION);
    req.onupgradeneeded = () => {
      const db = req.result;
      for (const store of ['keys', 'blobs', 'jobs']) if (!db.objectStoreNames.contains(store)) db.createObjectStore(store);
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(new Error(`browser storage is unavailable: ${req.error?.message}`));
  });
}

async function tx<T>(store: string, mode: IDBTransactionMode, f: (s: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await open();
  try {
    return await new Promise<T>((resolve, reject) => {
      const t = db.transaction(store, mode);
      const req = f(t.objectStore(store));
      t.oncomplete = () => resolve(req.result);
      t.onerror = () => reject(new Error(`browser storage failed: ${t.error?.message}`));
      t.onabort = () => reject(new Error(`browser storage failed: ${t.error?.message ?? 'aborted (quota?)'}`));
    });
  } finally {
    db.close();
  }
}

export const get = <T>(store: string, key: string) => tx<T | undefined>(store, 'readonly', (s) => s.get(key));
export const put = (store: string, key: string, value: unknown) => tx(store, 'readwrite', (s) => s.put(value, key));
export const all = <T>(store: string) => tx<T[]>(store, 'readonly', (s) => s.getAll());

/** Derive the sealing key from a wallet signature (hex). */
export async function sealingKey(signature: string): Promise<CryptoKey> {
  const hex = signature.startsWith('0x') ? signature.slice(2) : signature;
  const bytes = new Uint8Array(hex.match(/.{2}/g)?.map((b) => parseInt(b, 16)) ?? []);
  const ikm = await crypto.subtle.importKey('raw', bytes, 'HKDF', false, ['deriveKey']);
  return crypto.subtle.deriveKey(
    { name: 'HKDF', hash: 'SHA-256', salt: new TextEncoder().encode('modelmart-keystore-v2'), info: new Uint8Array() },
    ikm,
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt', 'decrypt'],
  );
}

interface Sealed {
  iv: Uint8Array;
  data: ArrayBuffer;
  paramSet: number;
  created: number;
}

const keyId = (account: string, chainId: number, paramSet: number) => `${chainId}:${account.toLowerCase()}:${paramSet}`;

/** The stored client key of `account` for `paramSet`, opened with `sealing`; `null` if none. */
export async function loadClientKey(sealing: CryptoKey, account: string, chainId: number, paramSet: number): Promise<Uint8Array | null> {
  const sealed = await get<Sealed>('keys', keyId(account, chainId, paramSet));
  if (!sealed) return null;
  try {
    return new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: sealed.iv as BufferSource }, sealing, sealed.data));
  } catch {
    throw new Error('The stored FHE key does not open with this signature (was it made with another wallet?). Forget it under "My jobs" to make a new one.');
  }
}

/** Seal and store a client key. */
export async function storeClientKey(sealing: CryptoKey, account: string, chainId: number, paramSet: number, key: Uint8Array): Promise<void> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const data = await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, sealing, key as BufferSource);
  await put('keys', keyId(account, chainId, paramSet), { iv, data, paramSet, created: Date.now() } satisfies Sealed);
}

/**
 * Delete every stored client key of `account` on `chainId` (all parameter sets) and the key
 * blobs made from them (their past results can no longer be decrypted here).
 */
export async function forgetClientKeys(account: string, chainId: number): Promise<void> {
  const prefix = `${chainId}:${account.toLowerCase()}:`;
  const range = IDBKeyRange.bound(prefix, `${prefix}\uffff`);
  for (const store of ['keys', 'blobs']) await tx(store, 'readwrite', (s) => s.delete(range));
}

/** A key blob made from the client key (kept so its hash, registered on chain, stays the same). */
export interface KeyBlob {
  hash: `0x${string}`;
  bytes: Uint8Array;
}

export const loadKeyBlob = (account: string, chainId: number, paramSet: number, kind: 'eval' | 'public') =>
  get<KeyBlob>('blobs', `${keyId(account, chainId, paramSet)}:${kind}`);

export const storeKeyBlob = (account: string, chainId: number, paramSet: number, kind: 'eval' | 'public', blob: KeyBlob) =>
  put('blobs', `${keyId(account, chainId, paramSet)}:${kind}`, blob);

/** SHA-256 of `bytes`, `0x`-hex (blob hashes as the chain stores them). */
export async function sha256(bytes: Uint8Array): Promise<`0x${string}`> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as BufferSource));
  return `0x${Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}
