// Client-side checks mirroring the platform's field rules, so a form says what is wrong before sending.

export const VERSION_NAME = /^\d+\.\d+\.\d+(_\w+)?$/;
const LABEL_KEY = /^[A-Za-z0-9][A-Za-z0-9_.\-/:]{0,63}$/;
const WORKSPACE_NAME = /^[A-Za-z][A-Za-z0-9_-]{1,63}$/;
const URI = /^[a-z][a-z0-9+.-]*:\/\/\S+$/i;
export const MAX_LABELS = 20;

export interface Pair {
  key: string;
  value: string;
}

export type Checked<T> = { ok: true; value: T } | { ok: false; message: string };

const fail = (message: string): { ok: false; message: string } => ({ ok: false, message });

export function checkVersionName(name: string): string | null {
  return name === "" || VERSION_NAME.test(name) ? null : "Use major.minor.patch, e.g. 1.2.0 or 1.2.0_beta.";
}

export function checkModelName(name: string): string | null {
  if (name.trim() === "") return "Name the model.";
  if (name !== name.trim()) return "No spaces at the start or end.";
  if (name.length > 128) return "At most 128 characters.";
  if (/[/\\]/.test(name)) return "No '/' or '\\'.";
  return null;
}

export function checkWorkspaceName(name: string): string | null {
  return WORKSPACE_NAME.test(name) ? null : "2 to 64 characters: a letter, then letters, digits, '_' or '-'.";
}

export function checkUri(uri: string): string | null {
  return URI.test(uri.trim()) ? null : "A URI such as oss://bucket/key, s3://bucket/key or https://host/path.";
}

/** Rows left entirely blank are ignored, so the editors can always show an empty row to type in. */
const filled = (rows: readonly Pair[]) => rows.filter((r) => r.key.trim() !== "" || r.value.trim() !== "");

export function checkLabels(rows: readonly Pair[]): Checked<Record<string, string>> {
  const labels: Record<string, string> = {};
  const used = filled(rows);
  if (used.length > MAX_LABELS) return fail(`At most ${MAX_LABELS} labels.`);
  for (const { key, value } of used) {
    const k = key.trim();
    if (!LABEL_KEY.test(k)) return fail(`Label key "${k}": a letter or digit, then letters, digits or _ . - / :`);
    if (k in labels) return fail(`Label "${k}" appears twice.`);
    labels[k] = value;
  }
  return { ok: true, value: labels };
}

export function parseNumber(text: string): number | null {
  const t = text.trim();
  if (t === "") return null;
  const n = Number(t);
  return Number.isFinite(n) ? n : null;
}

export function checkMetrics(rows: readonly Pair[]): Checked<Record<string, number>> {
  const metrics: Record<string, number> = {};
  for (const { key, value } of filled(rows)) {
    const k = key.trim();
    if (k === "") return fail("Every metric needs a name.");
    if (k in metrics) return fail(`Metric "${k}" appears twice.`);
    const n = parseNumber(value);
    if (n === null) return fail(`Metric "${k}" must be a number.`);
    metrics[k] = n;
  }
  return { ok: true, value: metrics };
}

/** An optional numeric field: empty is fine; otherwise a number in [min, max], an integer if asked. */
export function checkParam(text: string, min: number, max: number, integer = false): Checked<number | undefined> {
  if (text.trim() === "") return { ok: true, value: undefined };
  const n = parseNumber(text);
  if (n === null || n < min || n > max || (integer && !Number.isInteger(n))) {
    return fail(`${integer ? "An integer" : "A number"} from ${min} to ${max}.`);
  }
  return { ok: true, value: n };
}

export function parseJson(text: string): Checked<unknown> {
  if (text.trim() === "") return fail("Enter the inputs as JSON.");
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (e) {
    return fail(`Not valid JSON: ${(e as Error).message}`);
  }
}

/** A table editor's cells as row dicts; numeric-looking cells become numbers. */
export function tableRows(columns: readonly string[], cells: readonly string[][]): Checked<Record<string, unknown>[]> {
  const names = columns.map((c) => c.trim());
  if (names.some((c) => c === "")) return fail("Name every column.");
  if (new Set(names).size !== names.length) return fail("Column names must differ.");
  const rows = cells.filter((row) => row.some((c) => c.trim() !== ""));
  if (rows.length === 0) return fail("Add at least one row.");
  return {
    ok: true,
    value: rows.map((row) => Object.fromEntries(names.map((c, i) => [c, parseNumber(row[i] ?? "") ?? row[i] ?? ""]))),
  };
}
