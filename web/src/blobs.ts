// The operator's blob endpoint (`PUT/GET/HEAD /v1/blobs/{sha256}`): uploads with progress, and
// downloads that are hash-checked before anything reads them.

import { blobLimits, type BlobKind } from './abi/protocol';
import { sha256 } from './keystore';

/** What the browser uploads (results are the operator's). */
export type Kind = Exclude<BlobKind, 'result'>;

const url = (endpoint: string, hash: string) => `${endpoint.replace(/\/$/, '')}/v1/blobs/${hash}`;

/** Whether the operator already holds the blob. */
export async function has(endpoint: string, hash: string): Promise<boolean> {
  try {
    const res = await fetch(url(endpoint, hash), { method: 'HEAD' });
    return res.ok;
  } catch {
    throw new Error("The model's operator could not be reached. It may be down; try again later.");
  }
}

/** Upload `bytes` (hash `hash`) as `kind`; `progress` gets the fraction sent. */
export function put(endpoint: string, kind: Kind, hash: string, bytes: Uint8Array, progress?: (f: number) => void): Promise<void> {
  if (bytes.length > blobLimits[kind]) {
    return Promise.reject(new Error(`The upload is ${bytes.length} bytes, over the ${blobLimits[kind]}-byte limit of a ${kind.replace('_', ' ')}.`));
  }
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', `${url(endpoint, hash)}?kind=${kind}`);
    xhr.setRequestHeader('content-type', 'application/octet-stream');
    xhr.upload.onprogress = (e) => e.lengthComputable && progress?.(e.loaded / e.total);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) return resolve();
      let detail = '';
      try {
        detail = (JSON.parse(xhr.responseText) as { detail?: string }).detail ?? ''; // RFC 9457 problem details
      } catch {
        /* not JSON */
      }
      const what = xhr.status === 413 ? 'is larger than the operator accepts' : `was refused (${xhr.status})`;
      reject(new Error(`The upload ${what}${detail ? `: ${detail}` : ''}.`));
    };
    xhr.onerror = () => reject(new Error("The upload failed: the model's operator could not be reached."));
    xhr.send(bytes as unknown as XMLHttpRequestBodyInit);
  });
}

/** Download a blob and check it hashes to `hash`; refuses more than `limit` bytes. */
export async function get(endpoint: string, hash: string, limit: number): Promise<Uint8Array> {
  let res: Response;
  try {
    res = await fetch(url(endpoint, hash));
  } catch {
    throw new Error("The model's operator could not be reached. It may be down; try again later.");
  }
  if (res.status === 404) throw new Error(`The operator does not have blob ${hash.slice(0, 10)}….`);
  if (!res.ok) throw new Error(`The operator answered ${res.status} for blob ${hash.slice(0, 10)}….`);
  const declared = Number(res.headers.get('content-length') ?? '0');
  if (declared > limit) throw new Error(`The blob is ${declared} bytes, over the ${limit}-byte limit.`);
  const bytes = new Uint8Array(await res.arrayBuffer());
  if (bytes.length > limit) throw new Error(`The blob is ${bytes.length} bytes, over the ${limit}-byte limit.`);
  const got = await sha256(bytes);
  if (got.toLowerCase() !== hash.toLowerCase()) {
    throw new Error(`The operator served bytes that do not match their hash (expected ${hash.slice(0, 10)}…, got ${got.slice(0, 10)}…); they were discarded.`);
  }
  return bytes;
}
