// What a version's signature (recorded at registration) gives the predict form: the real column names, a
// sample row to start from, and class labels for the outputs.

import { formatNumber } from "./format";
import type { Signature, Tensor } from "./types";

export interface Table {
  columns: string[];
  cells: string[][];
}

export const BLANK: Table = { columns: ["x0", "x1"], cells: [["", ""]] };

/** The column names of tabular input: the model's own, else x0.. for one input of fixed width. */
export function columnsOf(signature: Signature | null | undefined): string[] | null {
  if (!signature) return null;
  if (signature.features?.length) return signature.features;
  const only = signature.inputs.length === 1 ? signature.inputs[0] : null;
  const width = only && only.shape.length === 2 ? only.shape[1] : null;
  return width ? Array.from({ length: width }, (_, i) => `x${i}`) : null;
}

function zero(tensor: Tensor): unknown {
  return tensor.dtype === "string" ? "" : tensor.dtype === "bool" ? false : 0;
}

/** One sample of a tensor: batch 1, fixed dimensions filled, free ones of size 1. */
function sampleTensor(tensor: Tensor): unknown {
  const build = (dims: (number | null)[]): unknown =>
    dims.length === 0 ? zero(tensor) : Array.from({ length: dims[0] ?? 1 }, () => build(dims.slice(1)));
  return build(tensor.shape.length ? [1, ...tensor.shape.slice(1)] : []);
}

/** A sample row as the table editor shows it: the real columns, zeros to overwrite. */
export function sampleTable(signature: Signature | null | undefined): Table {
  const columns = columnsOf(signature);
  return columns ? { columns, cells: [columns.map(() => "0")] } : BLANK;
}

/** A sample request as JSON text: row dicts for named columns, else a tensor per input. */
export function sampleJson(signature: Signature | null | undefined): string {
  if (!signature || signature.inputs.length === 0) return "";
  if (signature.features?.length) return JSON.stringify([Object.fromEntries(signature.features.map((f) => [f, 0]))]);
  if (signature.inputs.length === 1) return JSON.stringify(sampleTensor(signature.inputs[0]));
  return JSON.stringify(Object.fromEntries(signature.inputs.map((t) => [t.name, sampleTensor(t)])));
}

/** An output cell for people: numbers rounded, a row of class probabilities labelled with its classes. */
export function outputCell(value: unknown, classes?: readonly unknown[] | null): string {
  if (typeof value === "number") return formatNumber(value, 4);
  if (typeof value === "string") return value;
  if (Array.isArray(value)) {
    if (classes && classes.length === value.length && value.every((v) => typeof v === "number")) {
      return value.map((v, i) => `${String(classes[i])}: ${formatNumber(v as number, 3)}`).join(", ");
    }
    return `[${value.map((v) => outputCell(v)).join(", ")}]`;
  }
  return JSON.stringify(value);
}

/** "12 ms", "1.4 s": how long the call took. */
export function formatLatency(ms: number): string {
  return ms < 1000 ? `${formatNumber(ms, 3)} ms` : `${formatNumber(ms / 1000, 3)} s`;
}
