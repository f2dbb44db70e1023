// Models: search and filters over what the workspace may call, the list, and the selected model.

import { useMemo, useState } from "preact/hooks";
import { distinct, filterModels, NO_FILTER, type ModelFilter } from "./filter";
import { ModelDetail } from "./model-detail";
import { ModelList } from "./model-list";
import { useCan, useSelection, useTrait } from "./model";
import { humanLabel, plural } from "./format";
import type { ListingNote } from "./types";
import { Empty, Field } from "./ui";

function Choice({ label, value, options, onChange }: {
  label: string;
  value: string;
  options: readonly string[];
  onChange: (value: string) => void;
}) {
  return (
    <Field label={label}>
      {({ id }) => (
        <select id={id} class="md-input" value={value} onChange={(e) => onChange(e.currentTarget.value)}>
          <option value="">any</option>
          {options.map((o) => (
            <option key={o} value={o}>
              {humanLabel(o)}
            </option>
          ))}
        </select>
      )}
    </Field>
  );
}

/** What a part of the list could not show (a service of the profile refused the caller), with what to do. */
function Notes({ notes }: { notes: readonly ListingNote[] }) {
  return (
    <>
      {notes.map((n) => (
        <div key={n.code + n.message} class="md-note" role="status" data-testid="md-models-note" data-code={n.code}>
          <strong class="md-error-code">{n.code}</strong> <span>{n.message}</span>
          {n.hint && <div class="md-error-hint" data-testid="md-models-note-hint">{n.hint}</div>}
        </div>
      ))}
    </>
  );
}

export function Models() {
  const models = useTrait("models");
  const notes = useTrait("models_notes") ?? [];
  const enums = useTrait("enums");
  const selected = useTrait("selected"); // the list and its details show the model the kernel holds
  const [, select] = useSelection();
  const can = useCan();
  const [filter, setFilter] = useState<ModelFilter>(NO_FILTER);
  const shown = useMemo(() => filterModels(models, filter), [models, filter]);
  const tasks = useMemo(() => distinct(models, (m) => [m.task]), [models]);
  const actions = enums.actions.length ? enums.actions : distinct(models, (m) => m.actions ?? []);
  const current = selected.model ? models.find((m) => m.id === selected.model) : undefined;
  // The sidebar is too narrow for list and details side by side: it shows one, with a way back. The
  // details open by a click in this view, so a sidebar opened again starts at the list while the selection
  // (which the Inference tab uses) stays.
  const stacked = useTrait("host") === "sidebar";
  const [detailsOpen, setDetailsOpen] = useState(false);
  const detailed = current && (!stacked || detailsOpen) ? current : undefined;
  const set = (patch: Partial<ModelFilter>) => setFilter((f) => ({ ...f, ...patch }));
  return (
    <div class="md-models">
      <div class="md-filters" role="search">
        <Field label="Search">
          {({ id }) => (
            <input
              id={id}
              type="search"
              class="md-input"
              data-testid="md-model-search"
              placeholder="name, task, owner, label…"
              value={filter.text}
              onInput={(e) => set({ text: e.currentTarget.value })}
            />
          )}
        </Field>
        <Choice label="Task" value={filter.task} options={tasks} onChange={(task) => set({ task })} />
        <Choice
          label="Source"
          value={filter.source}
          options={["owned", "granted"]}
          onChange={(source) => set({ source: source as ModelFilter["source"] })}
        />
        <Choice label="Action" value={filter.action} options={actions} onChange={(action) => set({ action })} />
      </div>
      <Notes notes={notes} />
      <div class="md-count md-muted" aria-live="polite">
        {shown.length === models.length
          ? plural(models.length, "model")
          : `${shown.length.toLocaleString("en-US")} of ${plural(models.length, "model")}`}
      </div>
      <div class={`md-split${stacked ? " md-stacked" : ""}`}>
        {stacked && detailed ? (
          <button type="button" class="md-button md-quiet md-back" data-testid="md-back" onClick={() => setDetailsOpen(false)}>
            ← All models
          </button>
        ) : shown.length === 0 ? (
          <Empty>{models.length === 0 ? "This workspace may not call any model yet." : "No model matches."}</Empty>
        ) : (
          <ModelList
            models={shown}
            selectedId={selected.model}
            onSelect={(m) => {
              setDetailsOpen(true);
              if (m.id !== selected.model) select({ model: m.id, version: null });
            }}
          />
        )}
        {detailed ? (
          <ModelDetail key={detailed.id} model={detailed} />
        ) : (
          !stacked && <Empty>{can("versions") ? "Select a model to see its versions." : "Select a model to see it."}</Empty>
        )}
      </div>
    </div>
  );
}
