// The indexer's HTTP API (`indexer/openapi.json`): what the page browses. Anything that moves
// money or decides what to decrypt is re-read from the chain and from hash-checked blobs.

import type { ModelCard } from './card';

export interface Health {
  reachable: boolean;
  latency_ms: number | null;
  checked_at: number;
  error: string | null;
}

export interface Stats {
  jobs_total: number;
  jobs_completed: number;
  jobs_rejected: number;
  jobs_expired: number;
  jobs_pending: number;
  success_rate: number;
  median_latency_s: number | null;
  earnings: Record<string, string>;
}

export interface ModelSummary {
  model_id: number;
  seller: string;
  operator: string;
  token: string;
  price_per_row: string;
  operator_fee_per_row: string;
  card_hash: `0x${string}`;
  param_set: number;
  max_rows: number;
  job_deadline: number;
  output_mode: number;
  status: string;
  decline_reason: number | null;
  listed_at: number;
  name: string | null;
  task: string | null;
  operator_status: string | null;
  operator_health: Health | null;
  stats: Stats;
}

/** One version of a listing: the event that made it and where it is on chain. */
export interface ModelChange {
  event: string;
  status: string;
  block_number: number;
  block_time: number;
  tx_hash: string;
}

export interface ModelDetail extends ModelSummary {
  operator_info: { address: string; endpoint: string; stake: string; status: string } | null;
  card_url: string | null;
  card: ModelCard | null;
  card_error: string | null;
  /** Every version of the listing, oldest first (the first is its `ModelListed`). */
  history: ModelChange[];
}

export interface Job {
  job_id: number;
  model_id: number;
  buyer: string;
  seller: string;
  token: string;
  input_hash: string;
  key_hash: string;
  rows: number;
  seller_amount: string;
  operator_amount: string;
  deadline: number;
  status: 'requested' | 'completed' | 'rejected' | 'expired';
  result_hash: `0x${string}` | null;
  reason: number | null;
  refund: string | null;
  seller_paid: string | null;
  requested_at: number;
  settled_at: number | null;
}

export interface Balance {
  account: string;
  token: string;
  balance: string;
  credited_total: string;
  withdrawn_total: string;
}

export interface Operator {
  address: `0x${string}`;
  endpoint: string;
  stake: string;
  status: string;
  active_models: number;
  health: Health | null;
  stats: Stats;
}

interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

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
      const body = (await res.json().catch(() => null)) as { error?: string } | null;
      throw new Error(body?.error ?? `The marketplace index answered ${res.status}.`);
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
