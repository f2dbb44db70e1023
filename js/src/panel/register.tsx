// Register: a checkpoint (path, URI or kernel variable) as a new version, with upload progress.

import { useEffect, useState } from "preact/hooks";
import { registerCode } from "./code";
import { humanLabel } from "./format";
import { JobRow } from "./jobs";
import { useAction, useCodeContext, useTrait, useView, uuid } from "./model";
import { PairsEditor } from "./pairs";
import { checkRegister, EMPTY_FORM, type RegisterForm, type SourceKind } from "./register-form";
import type { Version } from "./types";
import { Badge, CopyCode, Field, useUid } from "./ui";

const SOURCES: { kind: SourceKind; label: string }[] = [
  { kind: "path", label: "Path" },
  { kind: "uri", label: "URI" },
  { kind: "variable", label: "Variable" },
];

function Choices({ id, value, options, onChange, testid }: {
  id: string;
  value: string;
  options: readonly string[];
  onChange: (value: string) => void;
  testid?: string;
}) {
  return (
    <select id={id} class="md-input" data-testid={testid} value={value} onChange={(e) => onChange(e.currentTarget.value)}>
      <option value="">(platform default)</option>
      {options.map((o) => (
        <option key={o} value={o}>
          {humanLabel(o)}
        </option>
      ))}
    </select>
  );
}

function SourceInput({ form, set, error }: {
  form: RegisterForm;
  set: (patch: Partial<RegisterForm>) => void;
  error?: string;
}) {
  const variables = useTrait("variables");
  const [listVariables, listing] = useAction("list_variables");
  const name = useUid();
  const wantsVariables = form.sourceKind === "variable";
  useEffect(() => {
    if (wantsVariables) listVariables();
  }, [wantsVariables, listVariables]);
  const pickVariable = (variable: string) => {
    const format = variables.find((v) => v.name === variable)?.format;
    set({ variable, ...(format && !form.format_type ? { format_type: format } : {}) });
  };
  return (
    <div class="md-source">
      <fieldset class="md-radios">
        <legend class="md-label">Source</legend>
        {SOURCES.map((s) => (
          <label key={s.kind} class="md-check">
            <input
              type="radio"
              name={name}
              value={s.kind}
              checked={form.sourceKind === s.kind}
              onChange={() => set({ sourceKind: s.kind })}
            />
            {s.label}
          </label>
        ))}
      </fieldset>
      {form.sourceKind === "path" && (
        <Field label="Checkpoint path" hint="A file or a folder, relative to the kernel's working directory.">
          {({ id, describedBy }) => (
            <input
              id={id}
              class="md-input md-code-input"
              data-testid="md-register-source-path"
              placeholder="checkpoints/iris.onnx"
              aria-describedby={describedBy}
              value={form.path}
              onInput={(e) => set({ path: e.currentTarget.value })}
            />
          )}
        </Field>
      )}
      {form.sourceKind === "uri" && (
        <Field label="URI" error={error}>
          {({ id, describedBy }) => (
            <input
              id={id}
              class="md-input md-code-input"
              data-testid="md-register-source-uri"
              placeholder="oss://bucket/models/iris.onnx"
              aria-invalid={!!error}
              aria-describedby={describedBy}
              value={form.uri}
              onInput={(e) => set({ uri: e.currentTarget.value })}
            />
          )}
        </Field>
      )}
      {form.sourceKind === "variable" && (
        <div class="md-row">
          <Field label="Kernel variable" hint={variables.length ? undefined : "No registerable variable in the kernel."}>
            {({ id, describedBy }) => (
              <select
                id={id}
                class="md-input"
                data-testid="md-register-source-variable"
                aria-describedby={describedBy}
                value={form.variable}
                onChange={(e) => pickVariable(e.currentTarget.value)}
              >
                <option value="">Choose…</option>
                {variables.map((v) => (
                  <option key={v.name} value={v.name}>
                    {v.name} ({v.type})
                  </option>
                ))}
              </select>
            )}
          </Field>
          <button
            type="button"
            class="md-button md-quiet"
            aria-label="Refresh variables"
            disabled={listing}
            onClick={() => listVariables()}
          >
            ↻
          </button>
        </div>
      )}
    </div>
  );
}

function Registered({ model, version }: { model: string; version: Version }) {
  const [, setView] = useView();
  return (
    <div class="md-success" role="status" data-testid="md-registered">
      Registered <strong>{model}</strong> version <strong>{version.version_name}</strong>{" "}
      <Badge kind={version.approval_status}>{version.approval_status}</Badge>
      <button type="button" class="md-button md-quiet" onClick={() => setView("models")}>
        Show in Models
      </button>
    </div>
  );
}

export function Register() {
  const models = useTrait("models");
  const enums = useTrait("enums");
  const jobs = useTrait("jobs");
  const codeContext = useCodeContext();
  const [register, registering] = useAction<Version>("register");
  const [form, setForm] = useState<RegisterForm>(EMPTY_FORM);
  const [actionId, setActionId] = useState<string | null>(null);
  const [done, setDone] = useState<{ model: string; version: Version } | null>(null);
  const namesId = useUid();
  const set = (patch: Partial<RegisterForm>) => setForm((f) => ({ ...f, ...patch }));
  const check = checkRegister(form);
  // A job names the action that started it; for a host that does not, the newest running upload.
  const job = registering
    ? (jobs.find((j) => j.action === actionId) ??
      jobs.find((j) => j.status === "running" && (j.kind === "register" || j.kind === "upload")))
    : undefined;

  const submit = async (e: Event) => {
    e.preventDefault();
    if (!check.args || registering) return;
    const id = uuid();
    setActionId(id);
    setDone(null);
    const outcome = await register(check.args, { id });
    if (outcome.ok) setDone({ model: check.args.model, version: outcome.result });
  };

  return (
    <form class="md-form md-register" onSubmit={submit} aria-label="Register a model version">
      <SourceInput form={form} set={set} error={check.errors.source} />
      <div class="md-grid">
        <Field label="Model" error={check.errors.model} hint="An existing model, or a new one in this workspace.">
          {({ id, describedBy }) => (
            <>
              <input
                id={id}
                class="md-input"
                data-testid="md-register-model"
                list={namesId}
                autocomplete="off"
                aria-invalid={!!check.errors.model}
                aria-describedby={describedBy}
                value={form.model}
                onInput={(e) => set({ model: e.currentTarget.value })}
              />
              <datalist id={namesId}>
                {models
                  .filter((m) => m.source === "owned")
                  .map((m) => (
                    <option key={m.id} value={m.name} />
                  ))}
              </datalist>
            </>
          )}
        </Field>
        <Field label="Version" error={check.errors.version_name} hint="Empty: the next minor version.">
          {({ id, describedBy }) => (
            <input
              id={id}
              class="md-input"
              data-testid="md-register-version"
              placeholder="1.2.0"
              aria-invalid={!!check.errors.version_name}
              aria-describedby={describedBy}
              value={form.version_name}
              onInput={(e) => set({ version_name: e.currentTarget.value })}
            />
          )}
        </Field>
        <Field label="Format">
          {({ id }) => (
            <Choices
              id={id}
              testid="md-register-format"
              value={form.format_type}
              options={enums.format_type}
              onChange={(format_type) => set({ format_type })}
            />
          )}
        </Field>
        <Field label="Framework">
          {({ id }) => (
            <Choices
              id={id}
              value={form.framework_type}
              options={enums.framework_type}
              onChange={(framework_type) => set({ framework_type })}
            />
          )}
        </Field>
      </div>
      <div class="md-grid">
        <PairsEditor
          label="Labels"
          valueLabel="value"
          rows={form.labels}
          error={check.errors.labels}
          onChange={(labels) => set({ labels })}
        />
        <PairsEditor
          label="Metrics"
          valueLabel="number"
          numeric
          rows={form.metrics}
          error={check.errors.metrics}
          onChange={(metrics) => set({ metrics })}
        />
      </div>
      <Field label="Description">
        {({ id }) => (
          <textarea
            id={id}
            class="md-input"
            rows={2}
            value={form.description}
            onInput={(e) => set({ description: e.currentTarget.value })}
          />
        )}
      </Field>
      <div class="md-actions">
        <button
          type="submit"
          class="md-button md-primary"
          data-testid="md-register-submit"
          disabled={!check.args || registering}
        >
          {registering ? "Registering…" : "Register"}
        </button>
        {check.missing.length > 0 && <span class="md-muted">Needs {check.missing.join(" and ")}.</span>}
        {check.args && (
          <CopyCode
            code={() => registerCode(codeContext, check.args!)}
          />
        )}
      </div>
      {job && (
        <ul class="md-jobs">
          <JobRow job={job} />
        </ul>
      )}
      {done && !registering && <Registered model={done.model} version={done.version} />}
    </form>
  );
}
