// The indexer's HTTP API (`indexer/openapi.json`): what the page browses. Anything that moves
// money or decides what to decrypt is re-read from the chain and from hash-checked blobs.

import type { components } from './abi/indexer';
import type { ModelCard } from './card';

// The response types are generated from the committed spec (`src/abi/indexer.ts`, by
// openapi-typescript; `make bindings-check` fails when it drifts), so the page reads what the
// indexer serves, not a copy of it.
type Schemas = components['schemas'];

/** An operator endpoint's last check. */
export type Health = Schemas['EndpointHealth'];
/** Jobs served, success rate, latency, earnings. */
export type Stats = Schemas['JobStats'];
/** A listing with its statistics. */
export type ModelSummary = Schemas['ModelSummary'];
/** One version of a listing: the event that made it and where it is on chain. */
export type ModelChange = Schemas['Change'];
/** A listing in full (`card` checked against its hash by the indexer, and again by the page). */
export type ModelDetail = Omit<Schemas['ModelDetail'], 'card'> & { card?: ModelCard | null };
/** A job. */
export type Job = Schemas['Job'];
/** A withdrawable balance. */
export type Balance = Schemas['Balance'];
/** An operator with its figures. */
export type Operator = Schemas['OperatorSummary'];
/** An error answer (RFC 9457 problem details). */
export type Problem = Schemas['Problem'];

type Page<T> = { items: T[]; next_cursor?: string | null };

export class Api {
  constructor(readonly base: string) {}

  private async get<T>(path: string, params: Record<string, string | number | undefined> = {}): Promise<T> {
    const url = new URL(path, this.base);
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') url.searchParams.set(k, String(v));
    let res: Response;
    try {
      res = await fetch(url);
    } catch {
      throw new Error('The marketplace index could not be reached. Check your connection and try again.');
    }
    if (!res.ok) {
      const body = (await res.json().catch(() => null)) as Partial<Problem> | null;
      throw new Error(body?.detail ?? `The marketplace index answered ${res.status}.`);
    }
    return (await res.json()) as T;
  }

  /** Listed models, newest first, optionally filtered by a search text or a seller. */
  async models(q: { q?: string; seller?: string; status?: string; sort?: string } = {}): Promise<ModelSummary[]> {
    return (await this.get<Page<ModelSummary>>('/v1/models', { ...q, limit: 100 })).items;
  }

  model(id: number): Promise<ModelDetail> {
    return this.get<ModelDetail>(`/v1/models/${id}`);
  }

  async jobs(q: { buyer?: string; seller?: string; model_id?: number }): Promise<Job[]> {
    return (await this.get<Page<Job>>('/v1/jobs', { ...q, limit: 100 })).items;
  }

  job(id: number): Promise<Job> {
    return this.get<Job>(`/v1/jobs/${id}`);
  }

  /** Operators taking listings now. */
  async operators(): Promise<Operator[]> {
    return this.get<Operator[]>('/v1/operators', { status: 'active' });
  }

  async balances(account: string): Promise<Balance[]> {
    return (await this.get<Page<Balance>>('/v1/balances', { account, limit: 100 })).items;
  }
}
