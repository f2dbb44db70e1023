// Deployments: the workspace's deployments with live status (the `deployments` trait follows the platform's
// change events), a detail with the events timeline and the controls, a Deploy form and a predict box.

import { createContext } from "preact";
import { useContext, useEffect, useState } from "preact/hooks";
import { deployable } from "./capabilities";
import { deployCode, deploymentPredictCode } from "./deploy-code";
import { formatTime } from "./format";
import { useAction, useCodeContext, useSelection, useTrait, useVersions, useView } from "./model";
import { Outputs } from "./predict";
import type { DeploymentEvent, DeploymentInfo, ModelInfo, Prediction, UpgradeMode } from "./types";
import { Badge, CopyCode, Empty, Field } from "./ui";
import { parseJson } from "./validate";

/** "RollingBack" → "Rolling back", "replica_exited" → "Replica exited". */
export function human(word: string): string {
  const spaced = word.replace(/_/g, " ").replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase();
  return spaced.charAt(0).toUpperCase() + spaced.slice(1);
}

/**
 * Enter in a field submits its form. A browser does that by itself, but in a notebook JupyterLab's command
 * mode shortcut for Enter takes the key first (and prevents that default), so the form asks for it.
 */
export function submitOnEnter(e: KeyboardEvent) {
  const field = e.target as HTMLElement;
  if (e.key !== "Enter" || e.isComposing || field.tagName !== "INPUT") return;
  e.preventDefault();
  (e.currentTarget as HTMLFormElement).requestSubmit();
}

const BUSY = ["Creating", "Upgrading", "RollingBack", "Deleting"];

/** The replicas line: "2/2 ready", or what is missing while one is being replaced. */
export function replicasText(d: Pick<DeploymentInfo, "ready" | "replicas">): string {
  return `${d.ready}/${d.replicas} ready`;
}

/**
 * A rolling upgrade's choice, in the words clouds use for it (ModelArts' add-instances / remove-instances):
 * new replicas start beside the old ones (nothing freed), or old ones are freed first, or both.
 */
export function rollingChoice(u: Pick<UpgradeMode, "batch_size" | "max_unavailable">): string {
  const freed = u.max_unavailable ?? 0;
  if (freed === 0) return "adds instances: new ones start beside the old";
  return freed >= (u.batch_size ?? 1) ? "removes instances: old ones are freed first" : "adds and removes instances";
}

/** The model as code names it: by name, by id only where the name is not unique in this workspace. */
function codeName(models: readonly ModelInfo[], id: string, name: string | null): string {
  return name && models.filter((m) => m.name === name).length <= 1 ? name : id;
}

/** Asks the Deployments tab to open its Deploy form (the model detail's "Deploy…"): App provides it. */
export const DeployRequest = createContext<{ requested: boolean; request(open: boolean): void }>({
  requested: false,
  request: () => undefined,
});

/** "Deploy…" for the selected version of a model: the Deployments tab with its Deploy form open. */
export function DeployButton({ model, version }: { model: ModelInfo; version: string | null }) {
  const { request } = useContext(DeployRequest);
  const [, setView] = useView();
  return (
    <button
      type="button"
      class="md-button"
      data-testid="md-deploy-open"
      title={`Serve ${model.name} ${version ?? "(newest usable version)"} as a deployment`}
      onClick={() => (request(true), setView("deployments"))}
    >
      Deploy{version ? ` ${version}` : ""}…
    </button>
  );
}

function StatusBadge({ d }: { d: DeploymentInfo }) {
  return (
    <span data-testid="md-deployment-status" data-status={d.status} title={d.status_reason || undefined}>
      <Badge kind={d.status}>{human(d.status)}</Badge>
    </span>
  );
}

function DeploymentList({ deployments, shown }: { deployments: readonly DeploymentInfo[]; shown: string | null }) {
  const [open] = useAction("deployment_events");
  return (
    <div class="md-table-wrap">
      <table class="md-table" aria-label="Deployments">
        <thead>
          <tr>
            <th scope="col">Deployment</th>
            <th scope="col">Model</th>
            <th scope="col">Status</th>
          </tr>
        </thead>
        <tbody>
          {deployments.map((d) => (
            <tr
              key={d.name}
              data-testid="md-deployment-row"
              data-name={d.name}
              class={shown === d.name ? "md-selected" : undefined}
              aria-selected={shown === d.name}
              tabIndex={0}
              onClick={() => open({ name: d.name })}
              onKeyDown={(e) => e.key === "Enter" && open({ name: d.name })}
            >
              <th scope="row">{d.name}</th>
              <td>
                {d.model_name ?? "—"} <span class="md-muted">{(d.versions.length ? d.versions : [d.version]).join(" → ")}</span>
              </td>
              <td>
                <StatusBadge d={d} />
                <div class="md-muted md-nowrap" data-testid="md-deployment-replicas">
                  {replicasText(d)}
                </div>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** Who did what when, and why it failed: newest first. */
function Timeline({ events }: { events: readonly DeploymentEvent[] }) {
  if (events.length === 0) return <Empty>No events yet.</Empty>;
  return (
    <ol class="md-timeline" data-testid="md-deployment-events" aria-label="Events">
      {events.map((e) => (
        <li key={e.seq} class={`md-event${e.reason ? " md-event-failed" : ""}`} data-testid="md-deployment-event" data-kind={e.kind}>
          <span class="md-muted md-nowrap">{formatTime(e.at)}</span> <strong>{human(e.kind)}</strong>{" "}
          <span class="md-muted">by {e.actor}</span>
          <div>{e.message}</div>
          {e.reason && <div class="md-field-error">Why: {e.reason}</div>}
        </li>
      ))}
    </ol>
  );
}

function VersionChoice({ id, modelId, value, onChange, empty, testid }: {
  id: string;
  modelId: string;
  value: string;
  onChange: (v: string) => void;
  empty: string;
  testid: string;
}) {
  const known = useVersions(modelId);
  return (
    <select id={id} class="md-input" data-testid={testid} value={value} onChange={(e) => onChange(e.currentTarget.value)}>
      <option value="">{empty}</option>
      {known.map((v) => (
        <option key={v.version_name} value={v.version_name}>
          {v.version_name} ({v.approval_status})
        </option>
      ))}
      {value && !known.some((v) => v.version_name === value) && <option value={value}>{value}</option>}
    </select>
  );
}

function ModeFields({ mode, setMode }: { mode: UpgradeMode; setMode: (m: UpgradeMode) => void }) {
  return (
    <>
      <fieldset class="md-radios">
        <legend class="md-label">Upgrade mode</legend>
        {(["rolling", "full"] as const).map((m) => (
          <label key={m} class="md-check">
            <input
              type="radio"
              name="md-upgrade-mode"
              data-testid={`md-upgrade-mode-${m}`}
              checked={mode.mode === m}
              onChange={() => setMode(m === "full" ? { mode: "full" } : { mode: "rolling", batch_size: 1, max_unavailable: 0 })}
            />
            {m === "rolling" ? "Rolling (batch by batch)" : "Full (new beside old, then switch)"}
          </label>
        ))}
      </fieldset>
      {mode.mode === "rolling" && (
        <div class="md-grid">
          <Field label="Batch size">
            {({ id }) => (
              <input id={id} type="number" min={1} class="md-input" data-testid="md-upgrade-batch" value={mode.batch_size ?? 1}
                onInput={(e) => setMode({ ...mode, batch_size: Number(e.currentTarget.value) })} />
            )}
          </Field>
          <Field label="Max unavailable">
            {({ id }) => (
              <input id={id} type="number" min={0} class="md-input" data-testid="md-upgrade-unavailable"
                value={mode.max_unavailable ?? 0}
                onInput={(e) => setMode({ ...mode, max_unavailable: Number(e.currentTarget.value) })} />
            )}
          </Field>
          <p class="md-muted" data-testid="md-upgrade-choice">Each batch {rollingChoice(mode)}.</p>
        </div>
      )}
    </>
  );
}

const ENGINES: Record<string, string> = { local: "Local (worker processes)", ray: "Ray Serve" };

/** Serve a model's version under a name. The model and version are the shared selection (as in Inference);
 * the engine is asked only where the platform runs more than one (a cloud's services run on its own). */
export function DeployForm({ onDone }: { onDone: () => void }) {
  const engines = useTrait("connection").engines ?? ["local", "ray"];
  const models = useTrait("models");
  const [selected, select] = useSelection();
  const ctx = useCodeContext();
  const [deploy, deploying] = useAction<DeploymentInfo>("deploy");
  const [open] = useAction("deployment_events");
  const offered = models.filter(deployable);
  const model = offered.find((m) => m.id === selected.model);
  const [name, setName] = useState<string | null>(null); // null: follow the model's name
  const [replicas, setReplicas] = useState(1);
  const [engine, setEngine] = useState(engines[0] ?? "local");
  const [mode, setMode] = useState<UpgradeMode>({ mode: "rolling", batch_size: 1, max_unavailable: 0 });
  const shownName = name ?? model?.name ?? "";
  const valid = !!model && /^[a-z0-9][a-z0-9-]*$/i.test(shownName) && replicas >= 1;
  const args = () => ({
    model: model!.id, version: selected.version ?? undefined, name: shownName, replicas, engine,
    upgrade: mode.mode === "full" ? ("full" as const) : mode,
  });
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!valid || deploying) return;
    const done = await deploy(args());
    if (done.ok) {
      onDone();
      open({ name: done.result.name });
    }
  };
  return (
    <form class="md-form md-deploy-form" data-testid="md-deploy-form" aria-label="Deploy a version" onSubmit={submit}
      onKeyDown={submitOnEnter}>
      <h3 class="md-detail-title">Deploy</h3>
      <div class="md-grid">
        <Field label="Model">
          {({ id }) => (
            <select id={id} class="md-input" data-testid="md-deploy-model" value={model?.id ?? ""}
              onChange={(e) => select({ model: e.currentTarget.value || null, version: null })}>
              <option value="">Choose…</option>
              {offered.map((m) => (
                <option key={m.id} value={m.id}>
                  {m.name}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Version">
          {({ id }) => (
            <VersionChoice id={id} modelId={model?.id ?? ""} value={selected.version ?? ""} testid="md-deploy-version"
              empty="newest usable" onChange={(v) => model && select({ model: model.id, version: v || null })} />
          )}
        </Field>
        <Field label="Name" hint="Letters, digits and dashes; unique in this workspace.">
          {({ id, describedBy }) => (
            <input id={id} class="md-input" data-testid="md-deploy-name" aria-describedby={describedBy} value={shownName}
              onInput={(e) => setName(e.currentTarget.value)} />
          )}
        </Field>
        <Field label="Replicas">
          {({ id }) => (
            <input id={id} type="number" min={1} class="md-input" data-testid="md-deploy-replicas" value={replicas}
              onInput={(e) => setReplicas(Number(e.currentTarget.value))} />
          )}
        </Field>
        {engines.length > 1 && (
          <Field label="Engine">
            {({ id }) => (
              <select id={id} class="md-input" data-testid="md-deploy-engine" value={engine} onChange={(e) => setEngine(e.currentTarget.value)}>
                {engines.map((e) => (
                  <option key={e} value={e}>
                    {ENGINES[e] ?? e}
                  </option>
                ))}
              </select>
            )}
          </Field>
        )}
      </div>
      <ModeFields mode={mode} setMode={setMode} />
      <div class="md-actions">
        <button type="submit" class="md-button md-primary" data-testid="md-deploy-submit" disabled={!valid || deploying}>
          {deploying ? "Deploying…" : "Deploy"}
        </button>
        <button type="button" class="md-button md-quiet" onClick={onDone}>
          Cancel
        </button>
        {model && <CopyCode code={() => deployCode(ctx, { ...args(), model: codeName(models, model.id, model.name) })} />}
      </div>
    </form>
  );
}

function Upgrade({ d }: { d: DeploymentInfo }) {
  const [upgrade, upgrading] = useAction("upgrade");
  const [version, setVersion] = useState("");
  const [mode, setMode] = useState<UpgradeMode>(d.upgrade?.mode ? d.upgrade : { mode: "rolling" });
  const submit = (e: Event) => {
    e.preventDefault();
    if (version && !upgrading) upgrade({ name: d.name, version, mode: mode.mode === "full" ? "full" : mode });
  };
  return (
    <form class="md-form md-inline-form" data-testid="md-upgrade-form" aria-label={`Upgrade ${d.name}`} onSubmit={submit}
      onKeyDown={submitOnEnter}>
      <Field label="Upgrade to version">
        {({ id }) => (
          <VersionChoice id={id} modelId={d.model_id} value={version} onChange={setVersion} empty="Choose…" testid="md-upgrade-version" />
        )}
      </Field>
      <ModeFields mode={mode} setMode={setMode} />
      <button type="submit" class="md-button md-primary" data-testid="md-upgrade-submit" disabled={!version || upgrading}>
        Upgrade
      </button>
    </form>
  );
}

/** Delete asks once more, in place (no browser dialog), and says it is final. */
function Delete({ d }: { d: DeploymentInfo }) {
  const [remove, removing] = useAction("delete_deployment");
  const [asking, setAsking] = useState(false);
  if (!asking) {
    return (
      <button type="button" class="md-button md-danger" data-testid="md-deployment-delete" disabled={d.status === "Deleting"}
        onClick={() => setAsking(true)}>
        Delete…
      </button>
    );
  }
  return (
    <span class="md-confirm" role="group" aria-label={`Delete ${d.name}?`}>
      <span>Delete {d.name} and its events? This is final.</span>
      <button type="button" class="md-button md-danger" data-testid="md-deployment-delete-confirm" disabled={removing}
        onClick={() => remove({ name: d.name }).then(() => setAsking(false))}>
        Delete {d.name}
      </button>
      <button type="button" class="md-button md-quiet" onClick={() => setAsking(false)}>
        Keep it
      </button>
    </span>
  );
}

function Controls({ d }: { d: DeploymentInfo }) {
  const [rollback, rollingBack] = useAction("rollback");
  const [stop, stopping] = useAction("stop_deployment");
  const [start, starting] = useAction("start_deployment");
  const busy = BUSY.includes(d.status);
  return (
    <div class="md-actions">
      <button type="button" class="md-button" data-testid="md-deployment-rollback" disabled={busy || !d.previous_version || rollingBack}
        title={d.previous_version ? `Serve ${d.previous_version} again` : "No earlier version to go back to"}
        onClick={() => rollback({ name: d.name })}>
        Roll back{d.previous_version ? ` to ${d.previous_version}` : ""}
      </button>
      {d.status === "Stopped" || d.status === "Failed" ? (
        <button type="button" class="md-button" data-testid="md-deployment-start" disabled={starting} onClick={() => start({ name: d.name })}>
          Start
        </button>
      ) : (
        <button type="button" class="md-button" data-testid="md-deployment-stop" disabled={busy || stopping} onClick={() => stop({ name: d.name })}>
          {stopping ? "Stopping…" : "Stop"}
        </button>
      )}
      <Delete d={d} />
    </div>
  );
}

/** The prediction's table as the Inference tab shows it, with the replica that answered. */
function Answer({ prediction }: { prediction: Prediction }) {
  return (
    <div data-testid="md-deployment-output">
      <div class="md-muted">answered by replica {prediction.replica ?? "?"}</div>
      <Outputs prediction={prediction} />
    </div>
  );
}

/** Predict through the deployment's replicas; Enter runs it. */
function PredictBox({ d }: { d: DeploymentInfo }) {
  const prediction = useTrait("prediction");
  const ctx = useCodeContext();
  const [predict, running] = useAction("predict");
  const [text, setText] = useState("");
  const inputs = parseJson(text);
  const submit = (e: Event) => {
    e.preventDefault();
    if (inputs.ok && !running) predict({ model: null, inputs: inputs.value, deployment: d.name });
  };
  return (
    <form class="md-form" data-testid="md-deployment-predict" aria-label={`Predict through ${d.name}`} onSubmit={submit}
      onKeyDown={submitOnEnter}>
      <Field label="Inputs (JSON)" error={text.trim() && !inputs.ok ? inputs.message : null}
        hint="An array, a dict of input name to array, or a list of row dicts; Enter runs it.">
        {({ id, describedBy }) => (
          <input id={id} class="md-input md-code-input" data-testid="md-deployment-predict-input" aria-describedby={describedBy}
            placeholder="[[5.1, 3.5, 1.4, 0.2]]" value={text} onInput={(e) => setText(e.currentTarget.value)} />
        )}
      </Field>
      <div class="md-actions">
        <button type="submit" class="md-button md-primary" data-testid="md-deployment-predict-run" disabled={!inputs.ok || running || !d.endpoint}>
          {running ? "Running…" : "Predict"}
        </button>
        <CopyCode code={() => deploymentPredictCode(ctx, { deployment: d.name, inputs: inputs.ok ? inputs.value : undefined })} />
      </div>
      {prediction?.deployment === d.name && <Answer prediction={prediction} />}
    </form>
  );
}

function Detail({ d, events }: { d: DeploymentInfo; events: readonly DeploymentEvent[] }) {
  const models = useTrait("models");
  const [selected, select] = useSelection();
  const ctx = useCodeContext();
  const [close] = useAction("deployment_events");
  // The upgrade picker lists the deployment's model's versions: select that model, as Inference would.
  useEffect(() => {
    if (selected.model !== d.model_id && models.some((m) => m.id === d.model_id)) select({ model: d.model_id, version: null });
  }, [d.model_id]);
  const mode = d.upgrade?.mode === "rolling"
    ? `rolling (batch ${d.upgrade.batch_size ?? 1}, max unavailable ${d.upgrade.max_unavailable ?? 0}: ${rollingChoice(d.upgrade)})`
    : d.upgrade?.mode ?? "";
  return (
    <article class="md-detail" data-testid="md-deployment-detail" aria-label={d.name}>
      <button type="button" class="md-button md-quiet md-small" data-testid="md-deployment-back" onClick={() => close({ name: null })}>
        ← Deployments
      </button>
      <h3 class="md-detail-title">
        {d.name} <StatusBadge d={d} />
      </h3>
      <p class="md-muted">
        {[`${d.model_name ?? "?"} ${d.versions.length ? d.versions.join(" → ") : d.version}`, replicasText(d), `${d.engine} engine`, mode]
          .filter(Boolean)
          .join(" · ")}
      </p>
      {d.status_reason && <p class="md-field-error" data-testid="md-deployment-reason">{d.status_reason}</p>}
      {d.endpoint && <p class="md-muted">Endpoint <code class="md-chip" data-testid="md-deployment-endpoint">{d.endpoint}</code></p>}
      <Controls d={d} />
      <h4 class="md-subtitle">Predict</h4>
      <PredictBox d={d} />
      <h4 class="md-subtitle">Upgrade</h4>
      <Upgrade key={d.name} d={d} />
      <h4 class="md-subtitle">Events</h4>
      <Timeline events={events} />
      <h4 class="md-subtitle">Code</h4>
      <CopyCode snippet="deploy" label="Copy deploy as code" code={() => deployCode(ctx, {
        model: codeName(models, d.model_id, d.model_name), version: d.version, name: d.name, replicas: d.replicas,
        engine: d.engine, upgrade: d.upgrade?.mode === "full" ? "full" : d.upgrade,
      })} />
    </article>
  );
}

export function Deployments() {
  const deployments = useTrait("deployments");
  const shown = useTrait("deployment_events");
  const { requested, request } = useContext(DeployRequest);
  const [load] = useAction("load_deployments");
  const [deploying, setDeploying] = useState(requested);
  useEffect(() => {
    load(); // the list is loaded once a view shows it; change events keep it current after that
    request(false);
  }, []);
  const current = deployments.find((d) => d.name === shown.name);
  const count = deployments.length === 1 ? "1 deployment" : `${deployments.length} deployments`;
  return (
    <div class="md-deployments">
      <div class="md-actions">
        <span class="md-count md-muted" aria-live="polite">{count}</span>
        {!deploying && (
          <button type="button" class="md-button md-primary" data-testid="md-deploy-new" onClick={() => setDeploying(true)}>
            Deploy…
          </button>
        )}
      </div>
      <div class="md-split">
        {deployments.length === 0 ? (
          <Empty>No deployments in this workspace yet.</Empty>
        ) : (
          <DeploymentList deployments={deployments} shown={current ? current.name : null} />
        )}
        {deploying ? (
          <DeployForm onDone={() => setDeploying(false)} />
        ) : current ? (
          <Detail key={current.name} d={current} events={shown.events} />
        ) : (
          <Empty>Select a deployment to see its events and controls.</Empty>
        )}
      </div>
    </div>
  );
}
