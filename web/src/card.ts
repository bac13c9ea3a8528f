// The model card as the operator serves it (`sdk/listing/src/card.rs`), and its checks.

import { blobLimits, type OutputMode } from './abi/protocol';
import type { PostTransform } from './format';

/** One input feature of the public schema. */
export interface FeatureSpec {
  name: string;
  /** Lowest value of the calibration data (values below are clipped to it). */
  min: number;
  /** Highest value of the calibration data (values above are clipped to it). */
  max: number;
  bits: number;
  edges?: number[];
}

/** `card.model`: what the buyer's side needs to encrypt, decrypt and decode. */
export interface PublicModel {
  param_set: number;
  schema: { features: FeatureSpec[] };
  task: { kind: 'classification'; labels: string[] } | { kind: 'regression' };
  post_transform: PostTransform;
  outputs: number;
  bootstraps_per_row: number;
}

/** A ModelMart model card (format `modelmart-card`, version 1). */
export interface ModelCard {
  format: string;
  version: number;
  name: string;
  description: string;
  task: string;
  output_mode: OutputMode;
  leakage: string;
  result_privacy: string;
  accuracy: {
    metric: string;
    float: number;
    quantized: number;
    fhe_agreement: number | null;
    fhe_rows: number;
    test_rows: number;
  };
  cost: { bootstraps_per_row: number; expected_ms_per_row: number; evaluation_key: boolean };
  model: PublicModel;
  /** Unit of a regression model's predicted value, when the seller named one. */
  unit?: string;
  /** The listing the card was published for: a copy listed by anyone else names another one. */
  listing?: { chain_id: number; market: string; seller: string; operator: string };
}

/**
 * Why `card` is not the card of the listing by `seller` with `operator` on `market` at chain
 * `chainId` (a copier's re-listing), or `null` when it names exactly that listing.
 */
export function cardElsewhere(card: ModelCard, chainId: number, market: string, seller: string, operator: string): string | null {
  const l = card.listing;
  if (!l) return 'the model card names no listing';
  const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
  if (l.chain_id !== chainId || !same(l.market, market)) return 'the model card was published on another market';
  if (!same(l.seller, seller)) return `the model card was published by seller ${l.seller}, not by this listing's seller: this listing is a copy`;
  if (!same(l.operator, operator)) return `the model card names operator ${l.operator}, not this listing's`;
  return null;
}

/** Largest card the page accepts (the card blob kind's limit, as the SDK and the operator). */
export const MAX_CARD_BYTES = blobLimits.card;

/** Parse and check card bytes; throws an Error in words when they are not a usable card. */
export function parseCard(bytes: Uint8Array): ModelCard {
  if (bytes.length > MAX_CARD_BYTES) throw new Error(`the model card is ${bytes.length} bytes, over the ${MAX_CARD_BYTES}-byte limit`);
  let card: ModelCard;
  try {
    card = JSON.parse(new TextDecoder().decode(bytes)) as ModelCard;
  } catch {
    throw new Error('the model card is not valid JSON');
  }
  if (card?.format !== 'modelmart-card' || card.version !== 1) throw new Error('not a ModelMart model card (format or version)');
  const features = card.model?.schema?.features;
  if (!Array.isArray(features) || features.length === 0) throw new Error('the model card has no input schema');
  for (const f of features) {
    if (typeof f.name !== 'string' || !Number.isFinite(f.min) || !Number.isFinite(f.max) || f.max < f.min) {
      throw new Error(`the model card's feature ${JSON.stringify(f?.name)} has no valid range`);
    }
  }
  if (card.model.task?.kind === 'classification' && !Array.isArray(card.model.task.labels)) {
    throw new Error('the model card names no labels');
  }
  return card;
}

/** The class labels, or `null` for a regression model. */
export function labelsOf(card: ModelCard): string[] | null {
  return card.model.task.kind === 'classification' ? card.model.task.labels : null;
}
