// A key/value rows editor (labels, metrics). It always ends with a blank row to type into.

import type { Pair } from "./validate";

const blank = (): Pair => ({ key: "", value: "" });

/** The rows with exactly one blank row at the end. */
export function withBlank(rows: readonly Pair[]): Pair[] {
  const kept = rows.filter((r, i) => i === rows.length - 1 || r.key !== "" || r.value !== "");
  const last = kept[kept.length - 1];
  return last && last.key === "" && last.value === "" ? kept : [...kept, blank()];
}

export function PairsEditor({ label, rows, onChange, valueLabel, numeric, error }: {
  label: string;
  rows: readonly Pair[];
  onChange: (rows: Pair[]) => void;
  valueLabel: string;
  numeric?: boolean;
  error?: string | null;
}) {
  const update = (i: number, patch: Partial<Pair>) =>
    onChange(withBlank(rows.map((r, j) => (j === i ? { ...r, ...patch } : r))));
  const remove = (i: number) => onChange(withBlank(rows.filter((_, j) => j !== i)));
  return (
    <fieldset class={`md-pairs${error ? " md-invalid" : ""}`}>
      <legend class="md-label">{label}</legend>
      {rows.map((r, i) => (
        <div class="md-pair" key={i}>
          <input
            class="md-input"
            aria-label={`${label} ${i + 1} name`}
            placeholder="name"
            value={r.key}
            onInput={(e) => update(i, { key: e.currentTarget.value })}
          />
          <input
            class="md-input"
            aria-label={`${label} ${i + 1} ${valueLabel}`}
            placeholder={valueLabel}
            inputMode={numeric ? "decimal" : undefined}
            value={r.value}
            onInput={(e) => update(i, { value: e.currentTarget.value })}
          />
          {i < rows.length - 1 && (
            <button
              type="button"
              class="md-button md-quiet md-small"
              aria-label={`Remove ${label.toLowerCase()} ${r.key || i + 1}`}
              onClick={() => remove(i)}
            >
              ×
            </button>
          )}
        </div>
      ))}
      {error && (
        <div class="md-field-error" role="status">
          {error}
        </div>
      )}
    </fieldset>
  );
}
