// Predict: inputs as JSON or a small table (prefilled from the version's signature), outputs from the
// `prediction` trait, rounded, with class labels and the call's latency.

import { useEffect, useState } from "preact/hooks";
import { predictCode, predictCurl } from "./code";
import { CopyCodeAs } from "./copy-as";
import { useAction, useCodeContext, useTrait } from "./model";
import { formatLatency, outputCell, sampleJson, sampleTable, type Table } from "./signature";
import type { Prediction, Signature } from "./types";
import { Field } from "./ui";
import { parseJson, tableRows, type Checked } from "./validate";

function TableEditor({ table, onChange }: { table: Table; onChange: (t: Table) => void }) {
  const setColumn = (c: number, name: string) => onChange({ ...table, columns: table.columns.map((x, i) => (i === c ? name : x)) });
  const setCell = (r: number, c: number, v: string) =>
    onChange({ ...table, cells: table.cells.map((row, i) => (i === r ? row.map((x, j) => (j === c ? v : x)) : row)) });
  const addColumn = () =>
    onChange({ columns: [...table.columns, `x${table.columns.length}`], cells: table.cells.map((row) => [...row, ""]) });
  const removeColumn = (c: number) =>
    onChange({ columns: table.columns.filter((_, i) => i !== c), cells: table.cells.map((row) => row.filter((_, i) => i !== c)) });
  const addRow = () => onChange({ ...table, cells: [...table.cells, table.columns.map(() => "")] });
  const removeRow = (r: number) => onChange({ ...table, cells: table.cells.filter((_, i) => i !== r) });
  return (
    <div class="md-table-wrap">
      <table class="md-table md-editor" aria-label="Input rows">
        <thead>
          <tr>
            {table.columns.map((c, i) => (
              <th key={i} scope="col">
                <input class="md-input" aria-label={`Column ${i + 1} name`} value={c} onInput={(e) => setColumn(i, e.currentTarget.value)} />
                {table.columns.length > 1 && (
                  <button type="button" class="md-button md-quiet md-small" aria-label={`Remove column ${c}`} onClick={() => removeColumn(i)}>
                    ×
                  </button>
                )}
              </th>
            ))}
            <th>
              <button type="button" class="md-button md-quiet md-small" onClick={addColumn}>
                + column
              </button>
            </th>
          </tr>
        </thead>
        <tbody>
          {table.cells.map((row, r) => (
            <tr key={r}>
              {row.map((v, c) => (
                <td key={c}>
                  <input
                    class="md-input"
                    aria-label={`Row ${r + 1} ${table.columns[c]}`}
                    value={v}
                    onInput={(e) => setCell(r, c, e.currentTarget.value)}
                  />
                </td>
              ))}
              <td>
                {table.cells.length > 1 && (
                  <button type="button" class="md-button md-quiet md-small" aria-label={`Remove row ${r + 1}`} onClick={() => removeRow(r)}>
                    ×
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <button type="button" class="md-button md-quiet md-small" onClick={addRow}>
        + row
      </button>
    </div>
  );
}

const FINISHED = ["SUCCEEDED", "FAILED", "CANCELED", "CANCELLED"]; // the platform spells CANCELED

export function Outputs({ prediction, signature = null }: { prediction: Prediction; signature?: Signature | null }) {
  const task = prediction.task;
  const classes = signature?.classes ?? null;
  return (
    <div class="md-outputs" data-testid="md-predict-output">
      <div class="md-muted" role="status">
        {prediction.model_name ?? prediction.model}
        {prediction.version ? ` ${prediction.version}` : ""}
        {task && ` · task ${task.id}: ${task.status}`}
        {prediction.latency_ms != null && <span data-testid="md-predict-latency"> · {formatLatency(prediction.latency_ms)}</span>}
      </div>
      {task && !FINISHED.includes(task.status.toUpperCase()) && <div class="md-progress md-indeterminate" aria-hidden="true"><div class="md-progress-fill" /></div>}
      {prediction.rows.length > 0 && (
        <div class="md-table-wrap">
          <table class="md-table">
            <thead>
              <tr>
                {prediction.columns.map((c) => (
                  <th key={c} scope="col">
                    {c}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {prediction.rows.map((row, r) => (
                <tr key={r}>
                  {row.map((v, c) => (
                    <td key={c} class={typeof v === "number" ? "md-num" : undefined}>
                      {outputCell(v, classes)}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

export function PredictView({ model, name = model, version }: { model: string; name?: string; version: string | null }) {
  const prediction = useTrait("prediction");
  const versions = useTrait("versions");
  const codeContext = useCodeContext();
  const [predict, running] = useAction("predict");
  const record = versions.find((v) => v.version_name === version) ?? versions[0];
  const signature = record?.signature ?? null;
  const [mode, setMode] = useState<"json" | "table">("json");
  const [json, setJson] = useState(() => sampleJson(signature));
  const [table, setTable] = useState<Table>(() => sampleTable(signature));
  const shape = JSON.stringify(signature?.inputs ?? null) + JSON.stringify(signature?.features ?? null);
  useEffect(() => {
    // another model or version: start again from its own columns and a sample row
    setJson(sampleJson(signature));
    setTable(sampleTable(signature));
  }, [model, shape]);
  const [asTask, setAsTask] = useState(false);
  const inputs: Checked<unknown> = mode === "json" ? parseJson(json) : tableRows(table.columns, table.cells);
  const args = () => ({ model, version: version ?? undefined, inputs: inputs.ok ? inputs.value : null, as_task: asTask });
  const [ranWith, setRanWith] = useState<string | null>(null); // a result shows only beside its inputs
  const fresh = ranWith === null || ranWith === JSON.stringify(args());
  return (
    <div class="md-predict">
      {record?.runnable === false && (
        <div class="md-predict-note" role="note" data-testid="md-not-runnable">
          Version {record.version_name} cannot run here: {record.not_runnable_reason}
        </div>
      )}
      <div class="md-segmented" role="group" aria-label="Inputs as">
        <span class="md-muted">Inputs as</span>
        <button type="button" class="md-button md-small" aria-pressed={mode === "json"} onClick={() => setMode("json")}>
          JSON
        </button>
        <button type="button" class="md-button md-small" aria-pressed={mode === "table"} onClick={() => setMode("table")}>
          Table
        </button>
      </div>
      {mode === "json" ? (
        <Field
          label="Inputs"
          error={json.trim() && !inputs.ok ? inputs.message : null}
          hint="An array, a dict of input name to array, or a list of row dicts."
        >
          {({ id, describedBy }) => (
            <textarea
              id={id}
              class="md-input md-code-input"
              data-testid="md-predict-input"
              rows={5}
              placeholder='[{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}]'
              aria-describedby={describedBy}
              value={json}
              onInput={(e) => setJson(e.currentTarget.value)}
            />
          )}
        </Field>
      ) : (
        <>
          <TableEditor table={table} onChange={setTable} />
          {!inputs.ok && <div class="md-field-hint">{inputs.message}</div>}
        </>
      )}
      <div class="md-actions">
        <label class="md-check">
          <input type="checkbox" checked={asTask} onChange={(e) => setAsTask(e.currentTarget.checked)} />
          Run as task
        </label>
        <button
          type="button"
          class="md-button md-primary"
          data-testid="md-predict-run"
          disabled={!inputs.ok || running}
          onClick={() => (setRanWith(JSON.stringify(args())), predict(args()))}
        >
          {running ? "Running…" : "Run"}
        </button>
        {inputs.ok && (
          <CopyCodeAs snippets={{
            Python: () => predictCode(codeContext, { ...args(), model: name }),
            curl: () => predictCurl(codeContext, { ...args(), model: name }),
          }} />
        )}
      </div>
      {prediction && prediction.model === model && fresh && <Outputs prediction={prediction} signature={signature} />}
    </div>
  );
}
