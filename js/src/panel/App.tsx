// The panel: a status header, the error banner and four tabs. All shared state comes from traits, so
// several views of one model stay in step.

import { useRef, useState } from "preact/hooks";
import { shownTab } from "./capabilities";
import { DeployRequest, Deployments } from "./deployments";
import { announce, JobList } from "./jobs";
import { useAction, useKernelGone, useTrait, useView } from "./model";
import { Inference } from "./inference";
import { Models } from "./models";
import { Register } from "./register";
import { keepKeys, useUid } from "./ui";
import type { Tab } from "./types";
import { Workspaces } from "./workspaces";

const TABS: { id: Tab; label: string }[] = [
  { id: "workspaces", label: "Workspaces" },
  { id: "models", label: "Models" },
  { id: "register", label: "Register" },
  { id: "inference", label: "Inference" },
  { id: "deployments", label: "Deployments" },
];

function Header() {
  const connection = useTrait("connection");
  const workspace = useTrait("workspace");
  const version = useTrait("version");
  const jobs = useTrait("jobs");
  const [refresh, refreshing] = useAction("refresh");
  const running = jobs.filter((j) => j.status === "running");
  return (
    <header class="md-header">
      <div class="md-status">
        <span class="md-brand" title={version ? `modeldeck ${version}` : "modeldeck"}>
          modeldeck
        </span>
        <span class="md-status-item" title={connection.kind}>
          <span class="md-muted">profile</span> {connection.profile || "—"}
        </span>
        {connection.account && (
          <span class="md-status-item">
            <span class="md-muted">account</span> {connection.account}
            {connection.account_kind && <span class="md-muted"> ({connection.account_kind})</span>}
          </span>
        )}
        <span class="md-status-item" data-testid="md-status-workspace">
          <span class="md-muted">workspace</span> {workspace ? workspace.name : "—"}
          {workspace?.role && <span class="md-badge">{workspace.role}</span>}
        </span>
        <button
          type="button"
          class="md-button md-quiet md-refresh"
          data-testid="md-refresh"
          aria-label="Refresh"
          title="Reload workspaces and models"
          disabled={refreshing}
          onClick={() => refresh()}
        >
          <span aria-hidden="true" class={refreshing ? "md-spin" : undefined}>
            ↻
          </span>
        </button>
      </div>
      <JobList jobs={running} />
    </header>
  );
}

/** One line when the panel has lost its kernel or its connection, with the way back. */
function ConnectionBanner() {
  const connection = useTrait("connection");
  const kernelGone = useKernelGone();
  const [reconnect, reconnecting] = useAction("reconnect");
  if (!kernelGone && connection.status !== "closed") return null;
  return (
    <div class="md-error md-connection" role="status" data-testid="md-connection-banner">
      <div class="md-error-text">
        {kernelGone
          ? "The kernel behind this panel stopped or restarted: run the cell that shows it again."
          : "This panel's connection was closed (deck.close())."}
      </div>
      {!kernelGone && (
        <button
          type="button"
          class="md-button"
          data-testid="md-reconnect"
          disabled={reconnecting}
          onClick={() => reconnect()}
        >
          {reconnecting ? "Reconnecting…" : "Reconnect"}
        </button>
      )}
    </div>
  );
}

function ErrorBanner() {
  const error = useTrait("error");
  const [dismiss] = useAction("dismiss_error");
  if (!error || error.code === "Deck.Closed") return null; // the connection banner says it, with Reconnect
  return (
    <div class="md-error" role="alert" data-testid="md-error">
      <div class="md-error-text">
        <strong class="md-error-code">{error.code}</strong> <span>{error.message}</span>
        {error.hint && (
          <div class="md-error-hint" data-testid="md-error-hint">
            {error.hint}
          </div>
        )}
      </div>
      <button type="button" class="md-button md-quiet" aria-label="Dismiss error" onClick={() => dismiss()}>
        ×
      </button>
    </div>
  );
}

function Tabs({ ids, tabs, view, setView }: {
  ids: string;
  tabs: typeof TABS;
  view: Tab;
  setView: (tab: Tab) => void;
}) {
  const list = useRef<HTMLDivElement>(null);
  const onKeyDown = (e: KeyboardEvent) => {
    const at = tabs.findIndex((t) => t.id === view);
    const next =
      e.key === "ArrowRight" ? (at + 1) % tabs.length
      : e.key === "ArrowLeft" ? (at - 1 + tabs.length) % tabs.length
      : e.key === "Home" ? 0
      : e.key === "End" ? tabs.length - 1
      : null;
    if (next === null) return;
    e.preventDefault();
    setView(tabs[next].id);
    list.current?.querySelectorAll<HTMLElement>('[role="tab"]')[next]?.focus();
  };
  return (
    <div class="md-tabs" role="tablist" aria-label="modeldeck" ref={list} onKeyDown={onKeyDown}>
      {tabs.map((t) => (
        <button
          key={t.id}
          type="button"
          role="tab"
          id={`${ids}-tab-${t.id}`}
          class="md-tab"
          data-testid={`md-tab-${t.id}`}
          aria-selected={view === t.id}
          aria-controls={`${ids}-panel`}
          tabIndex={view === t.id ? 0 : -1}
          onClick={() => setView(t.id)}
        >
          {t.label}
        </button>
      ))}
    </div>
  );
}

/** Job starts and ends for screen readers; errors speak through the banner's role="alert". */
function Status() {
  const jobs = useTrait("jobs");
  return (
    <div class="md-sr-only" aria-live="polite">
      {announce(jobs)}
    </div>
  );
}

export function App() {
  const [chosen, setView] = useView();
  const connection = useTrait("connection");
  const ids = useUid();
  const [deployRequested, requestDeploy] = useState(false); // the model detail's "Deploy…" opens the form
  // Only the tabs the platform can fill; a tab it cannot (say Register on an OpenAI-compatible server) is
  // not offered, and a view left on one shows the first tab there is.
  const tabs = TABS.filter((t) => shownTab(connection, t.id));
  const view = tabs.some((t) => t.id === chosen) ? chosen : (tabs[0]?.id ?? chosen);
  return (
    <DeployRequest.Provider value={{ requested: deployRequested, request: requestDeploy }}>
    <div class="md-panel" data-testid="md-panel" onKeyDown={keepKeys}>
      <Header />
      <ConnectionBanner />
      <ErrorBanner />
      <Tabs ids={ids} tabs={tabs} view={view} setView={setView} />
      <section class="md-tabpanel" role="tabpanel" id={`${ids}-panel`} aria-labelledby={`${ids}-tab-${view}`}>
        {view === "workspaces" && <Workspaces />}
        {view === "models" && <Models />}
        {view === "register" && <Register />}
        {view === "inference" && <Inference />}
        {view === "deployments" && <Deployments />}
      </section>
      <Status />
    </div>
    </DeployRequest.Provider>
  );
}
