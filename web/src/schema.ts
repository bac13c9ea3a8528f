// Schema to form: the buy form's fields, their validation, and CSV rows. Pure functions.

import type { FeatureSpec } from './card';

/** One form field made from a schema feature. */
export interface Field {
  name: string;
  label: string;
  min: number;
  max: number;
  /** Input step: the quantizer's resolution, rounded to a readable power of ten. */
  step: number;
  /** A value in the middle of the range (placeholder). */
  placeholder: string;
}

/** Fields for the schema's features, in input order. */
export function fieldsOf(features: FeatureSpec[]): Field[] {
  return features.map((f) => {
    const levels = 2 ** f.bits - 1;
    const resolution = f.max > f.min ? (f.max - f.min) / levels : 1;
    const step = 10 ** Math.floor(Math.log10(resolution));
    return {
      name: f.name,
      label: f.name.replace(/_/g, ' '),
      min: f.min,
      max: f.max,
      step,
      placeholder: String(Number(((f.min + f.max) / 2).toPrecision(4))),
    };
  });
}

/** What checking a row found. */
export interface RowCheck {
  /** The values, when every field holds a number. */
  values: number[] | null;
  /** Blocking problems by field name. */
  errors: Record<string, string>;
  /** Non-blocking notes by field name (values the model clips). */
  warnings: Record<string, string>;
}

/** Check the form's texts against the fields: every value a finite number; out of range warns. */
export function checkRow(fields: Field[], texts: string[]): RowCheck {
  const errors: Record<string, string> = {};
  const warnings: Record<string, string> = {};
  const values: number[] = [];
  fields.forEach((f, i) => {
    const t = (texts[i] ?? '').trim();
    if (t === '') {
      errors[f.name] = 'required';
      return;
    }
    const v = Number(t);
    if (!Number.isFinite(v)) {
      errors[f.name] = 'not a number';
      return;
    }
    if (v < f.min || v > f.max) {
      warnings[f.name] = `outside the calibrated range ${f.min}…${f.max}: the model reads it as ${v < f.min ? f.min : f.max}`;
    }
    values.push(v);
  });
  return { values: Object.keys(errors).length === 0 ? values : null, errors, warnings };
}

/**
 * Split one pasted CSV line (commas, semicolons, tabs or spaces) into one text per field. A
 * line with one more value than fields is taken to end with a label column, which is dropped.
 */
export function splitCsvRow(fields: Field[], line: string): string[] {
  const parts = line.trim().split(/[,;\t ]+/).filter((p) => p !== '');
  if (parts.length === fields.length + 1) parts.pop();
  if (parts.length !== fields.length) {
    throw new Error(`the line has ${parts.length} values; this model takes ${fields.length}`);
  }
  return parts;
}
