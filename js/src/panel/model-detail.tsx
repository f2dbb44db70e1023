// The selected model: its versions with metrics and a chart, approval for admins, and its grants.

import { useState } from "preact/hooks";
import { deployable, versioned } from "./capabilities";
import { MetricChart } from "./chart";
import { chatCode, modelCode, predictCode, registerCode } from "./code";
import { DeployButton } from "./deployments";
import { formatNumber, formatTime, humanLabel, origin } from "./format";
import { callName, looksLikeChat, servedByLatest } from "./inference";
import { useAction, useCan, useCodeContext, useSelection, useTrait } from "./model";
import type { Grant, ModelInfo, Version, Workspace } from "./types";
import { Badge, CopyCode, Empty, Field } from "./ui";

function metricNames(versions: readonly Version[]): string[] {
  const names = new Set<string>();
  for (const v of versions) for (const k of Object.keys(v.metrics ?? {})) names.add(k);
  return [...names].sort();
}

function Decision({ model, version }: { model: string; version: string }) {
  const [approve, approving] = useAction("approve");
  const [reject, rejecting] = useAction("reject");
  const [confirming, setConfirming] = useState(false);
  const busy = approving || rejecting;
  if (confirming)
    return (
      <span class="md-decision" role="group" aria-label={`Confirm rejecting ${version}`} onClick={(e) => e.stopPropagation()}>
        <span class="md-confirm" data-testid="md-reject-confirm-text">
          Reject {version}? This is final: it cannot be approved later, and latest will not serve it.
        </span>
        <button
          type="button"
          class="md-button md-small md-danger"
          data-testid="md-reject-confirm"
          disabled={busy}
          onClick={() => (setConfirming(false), reject({ model, version }))}
        >
          Reject (final)
        </button>
        <button type="button" class="md-button md-small" data-testid="md-reject-cancel" onClick={() => setConfirming(false)}>
          Cancel
        </button>
      </span>
    );
  return (
    <span class="md-decision">
      <button
        type="button"
        class="md-button md-small"
        data-testid="md-approve"
        aria-label={`Approve ${version}`}
        disabled={busy}
        onClick={(e) => (e.stopPropagation(), approve({ model, version }))}
      >
        Approve
      </button>
      <button
        type="button"
        class="md-button md-small md-danger"
        data-testid="md-reject"
        aria-label={`Reject ${version} (final; asks to confirm)`}
        disabled={busy}
        onClick={(e) => (e.stopPropagation(), setConfirming(true))}
      >
        Reject…
      </button>
    </span>
  );
}

function Versions({ model, versions, decide }: { model: ModelInfo; versions: readonly Version[]; decide: boolean }) {
  const [selected, select] = useSelection();
  const metrics = metricNames(versions);
  return (
    <div class="md-table-wrap">
      <table class="md-table">
        <caption class="md-sr-only">Versions of {model.name}</caption>
        <thead>
          <tr>
            <th scope="col">Version</th>
            <th scope="col">Approval</th>
            <th scope="col">Format</th>
            {metrics.map((m) => (
              <th scope="col" key={m} class="md-num">
                {m}
              </th>
            ))}
            <th scope="col">Created</th>
            <th scope="col">Labels</th>
          </tr>
        </thead>
        <tbody>
          {versions.map((v) => (
            <tr
              key={v.version_name}
              data-testid="md-version-row"
              data-id={v.version_name}
              class={selected.version === v.version_name ? "md-selected" : undefined}
              aria-selected={selected.version === v.version_name}
              onClick={() => select({ model: model.id, version: v.version_name })}
            >
              <th scope="row" title={v.description || undefined}>
                {v.version_name}
                {v.training_state && (
                  <span class="md-chip" data-testid="md-training-state" title="The state of the training job it came from">
                    training job: {v.training_state}
                  </span>
                )}
              </th>
              <td>
                <Badge kind={v.approval_status}>{v.approval_status}</Badge>
                {decide && v.approval_status === "Pending" && <Decision model={model.id} version={v.version_name} />}
              </td>
              <td title={v.framework_type ? humanLabel(v.framework_type) : undefined}>{v.format_type && humanLabel(v.format_type)}</td>
              {metrics.map((m) => (
                <td key={m} class="md-num">
                  {typeof v.metrics?.[m] === "number" ? formatNumber(v.metrics[m]) : ""}
                </td>
              ))}
              <td class="md-muted md-nowrap">{formatTime(v.created_at)}</td>
              <td>
                {Object.entries(v.labels ?? {}).map(([k, val]) => (
                  <span class="md-chip" key={k}>
                    {k}={val}
                  </span>
                ))}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function MetricView({ versions }: { versions: readonly Version[] }) {
  const names = metricNames(versions);
  const [chosen, setChosen] = useState("");
  const metric = names.includes(chosen) ? chosen : names[0];
  if (!metric) return null;
  const points = [...versions]
    .reverse()
    .filter((v) => typeof v.metrics?.[metric] === "number")
    .map((v) => ({ label: v.version_name, value: v.metrics[metric] }));
  return (
    <div class="md-metric">
      <Field label="Metric">
        {({ id }) => (
          <select id={id} class="md-input" value={metric} onChange={(e) => setChosen(e.currentTarget.value)}>
            {names.map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        )}
      </Field>
      <MetricChart metric={metric} points={points} />
    </div>
  );
}

function Authorize({ model }: { model: ModelInfo }) {
  const workspaces = useTrait("workspaces");
  const current = useTrait("workspace");
  const enums = useTrait("enums");
  const [authorize, authorizing] = useAction("authorize");
  const others = workspaces.filter((w) => w.id !== model.owner_workspace_id && w.id !== current?.id);
  const [target, setTarget] = useState("");
  const [actions, setActions] = useState<string[]>(["inference"]);
  const workspace = others.some((w) => w.id === target) ? target : "";
  const toggle = (a: string, on: boolean) => setActions((xs) => (on ? [...xs, a] : xs.filter((x) => x !== a)));
  const submit = (e: Event) => {
    e.preventDefault();
    if (workspace && actions.length) authorize({ model: model.id, workspace, actions });
  };
  return (
    <form class="md-form md-inline-form" onSubmit={submit} aria-label={`Authorize a workspace to use ${model.name}`}>
      <Field label="Authorize workspace">
        {({ id }) => (
          <select
            id={id}
            class="md-input"
            data-testid="md-authorize-workspace"
            value={workspace}
            onChange={(e) => setTarget(e.currentTarget.value)}
          >
            <option value="">Choose…</option>
            {others.map((w) => (
              <option key={w.id} value={w.id}>
                {w.name}
              </option>
            ))}
          </select>
        )}
      </Field>
      <fieldset class="md-checks">
        <legend class="md-label">Actions</legend>
        {enums.actions.map((a) => (
          <label key={a} class="md-check">
            <input type="checkbox" checked={actions.includes(a)} onChange={(e) => toggle(a, e.currentTarget.checked)} />
            {humanLabel(a)}
          </label>
        ))}
      </fieldset>
      <button
        type="submit"
        class="md-button md-primary"
        data-testid="md-authorize-submit"
        disabled={!workspace || actions.length === 0 || authorizing}
      >
        Authorize
      </button>
    </form>
  );
}

function Grants({ model, grants, admin }: { model: ModelInfo; grants: readonly Grant[]; admin: boolean }) {
  const [revoke, revoking] = useAction("revoke");
  if (grants.length === 0) return <Empty>No other workspace may use this model.</Empty>;
  return (
    <ul class="md-grants" aria-label="Grants">
      {grants.map((g) => (
        <li key={g.workspace_id} class="md-grant">
          <span class="md-ws-name">{g.workspace_name}</span>
          <span class="md-muted">{g.actions.map(humanLabel).join(", ")}</span>
          {admin && (
            <button
              type="button"
              class="md-button md-small md-danger"
              aria-label={`Revoke ${g.workspace_name}`}
              disabled={revoking}
              onClick={() => revoke({ model: model.id, workspace: g.workspace_id })}
            >
              Revoke
            </button>
          )}
        </li>
      ))}
    </ul>
  );
}

/** The model, or its selected version, as code: connect and use it, call it, register a new version. */
function ModelCode({ model, versions, owned }: { model: ModelInfo; versions: readonly Version[]; owned: boolean }) {
  const [selected] = useSelection();
  const models = useTrait("models");
  const ctx = useCodeContext();
  const can = useCan();
  const version = selected.model === model.id ? selected.version : null;
  const target = { model: callName(models, model), version }; // code reads better with the name
  const chat = !can("predict") || looksLikeChat(model, versions.find((v) => v.version_name === version) ?? versions[0]);
  const snippets = [
    { name: "use", label: "Connect and use", code: () => modelCode(ctx, target) },
    chat
      ? { name: "chat", label: "Chat", code: () => chatCode(ctx, { ...target, prompt: "Hello!", params: {} }) }
      : { name: "predict", label: "Predict", code: () => predictCode(ctx, { ...target, as_task: false }) },
    ...(owned && can("register")
      ? [{
          name: "register",
          label: "Register a new version",
          code: () => registerCode(ctx, { model: model.name, source: { path: "path/to/checkpoint" }, fields: {} }),
        }]
      : []),
  ];
  return (
    <ul class="md-snippets" aria-label={`${model.name}${version ? ` ${version}` : ""} as code`}>
      {snippets.map((s) => (
        <li key={s.name} class="md-snippet">
          <span class="md-snippet-label">{s.label}</span>
          <CopyCode snippet={s.name} code={s.code} />
        </li>
      ))}
    </ul>
  );
}

/** What `latest` serves (the newest version not rejected) and its approval: what a call without a version gets. */
function Headline({ versions }: { versions: readonly Version[] }) {
  if (versions.length === 0) return null;
  const served = servedByLatest(versions);
  return (
    <p class="md-headline" data-testid="md-headline">
      {served ? (
        <>
          latest serves <strong>{served.version_name}</strong> <Badge kind={served.approval_status}>{served.approval_status}</Badge>
        </>
      ) : (
        "latest serves nothing: every version was rejected"
      )}
    </p>
  );
}

/** Whether this workspace grants the model to others: an admin of its owner, or (Model Studio, where grants
 * are made from the default workspace and roles are not listed) the default workspace for a model it is
 * authorized for. The kernel's `state.grantor` is the same rule. */
export function grantor(workspace: Workspace | null, model: ModelInfo): boolean {
  if (model.source === "owned") return workspace?.role === "admin";
  return model.source === "authorized" && !!workspace?.is_default;
}

/** Whether the caller may approve or reject this model's versions: a model of PAI's registry says so in
 * its actions (from the caller's PAI roles: owner or admin), any other an admin of this workspace. */
export function approver(workspace: Workspace | null, model: ModelInfo): boolean {
  if (model.source === "pai") return (model.actions ?? []).includes("approve");
  return workspace?.role === "admin";
}

export function ModelDetail({ model }: { model: ModelInfo }) {
  const versions = useTrait("versions");
  const grants = useTrait("grants");
  const [selected] = useSelection();
  const workspace = useTrait("workspace");
  const can = useCan();
  const owned = model.source === "owned";
  const granting = grantor(workspace, model);
  const withVersions = can("versions") && versioned(model);
  return (
    <article class="md-detail" aria-label={model.name}>
      <h3 class="md-detail-title">{model.name}</h3>
      <p class="md-muted">
        {[model.task, model.domain, origin(model)]
          .filter(Boolean)
          .join(" · ")}
      </p>
      {model.description && <p class="md-description">{model.description}</p>}
      {withVersions && <Headline versions={versions} />}
      {withVersions && (
        <section data-testid="md-versions">
          <h4 class="md-subtitle">Versions</h4>
          {versions.length === 0 ? (
            <Empty>No versions yet.</Empty>
          ) : (
            <Versions model={model} versions={versions} decide={approver(workspace, model) && can("approve")} />
          )}
          <MetricView versions={versions} />
        </section>
      )}
      {can("deployments") && deployable(model) && (
        <DeployButton model={model} version={selected.model === model.id ? selected.version : null} />
      )}
      <h4 class="md-subtitle">Code</h4>
      <ModelCode model={model} versions={versions} owned={owned} />
      {(owned || granting) && can("grants") && (
        <>
          <h4 class="md-subtitle">Access</h4>
          <Grants model={model} grants={grants} admin={granting} />
          {granting && <Authorize model={model} />}
        </>
      )}
    </article>
  );
}
