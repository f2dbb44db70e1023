// Workspaces: the list with the current one marked, one-click switching, and creation for main accounts.

import { useState } from "preact/hooks";
import { switchCode } from "./code";
import { useAction, useCan, useTrait } from "./model";
import type { Workspace } from "./types";
import { humanLabel } from "./format";
import { Badge, CopyCode, Empty, Field } from "./ui";
import { checkWorkspaceName } from "./validate";

function WorkspaceRow({ ws, current }: { ws: Workspace; current: boolean }) {
  const [use, switching] = useAction("use");
  return (
    <li
      class={`md-ws-row${current ? " md-current" : ""}`}
      data-testid="md-workspace-row"
      data-id={ws.id}
      aria-current={current ? "true" : undefined}
    >
      <button
        type="button"
        class="md-ws-switch"
        aria-label={current ? `${ws.name} (current workspace)` : `Switch to ${ws.name}`}
        disabled={current || switching}
        onClick={() => use({ workspace: ws.id })}
      >
        <span class="md-ws-name">{ws.name}</span>
        {current && (
          <span class="md-badge md-badge-current" data-testid="md-workspace-current">
            current
          </span>
        )}
        {ws.is_default && <Badge>default</Badge>}
        {ws.role && <Badge>{humanLabel(ws.role)}</Badge>}
        {switching && <span class="md-muted">switching…</span>}
        {ws.description && <span class="md-ws-desc">{ws.description}</span>}
      </button>
    </li>
  );
}

function CreateWorkspace() {
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [create, creating] = useAction("create_workspace");
  const error = name === "" ? null : checkWorkspaceName(name);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (error || !name) return;
    const outcome = await create({ name, description });
    if (outcome.ok) {
      setName("");
      setDescription("");
    }
  };
  return (
    <form class="md-form md-inline-form" onSubmit={submit} aria-label="Create a workspace">
      <Field label="New workspace" error={error}>
        {({ id, describedBy }) => (
          <input
            id={id}
            class="md-input"
            data-testid="md-create-workspace-name"
            value={name}
            placeholder="team-c"
            aria-invalid={!!error}
            aria-describedby={describedBy}
            onInput={(e) => setName(e.currentTarget.value)}
          />
        )}
      </Field>
      <Field label="Description">
        {({ id }) => (
          <input
            id={id}
            class="md-input"
            value={description}
            onInput={(e) => setDescription(e.currentTarget.value)}
          />
        )}
      </Field>
      <button
        type="submit"
        class="md-button md-primary"
        data-testid="md-create-workspace-submit"
        disabled={!name || !!error || creating}
      >
        {creating ? "Creating…" : "Create"}
      </button>
    </form>
  );
}

/** A sub-account's note: the workspaces listed above are the ones it may enter; how to get another. */
function AccessNote({ workspaces, current, account }: {
  workspaces: readonly Workspace[];
  current: Workspace | null;
  account: string | null | undefined;
}) {
  const names = workspaces.map((w) => w.name).join(", ");
  const ask = `ask an admin of that workspace to add you: deck.add_member("workspace", "${account ?? "you"}", role="developer").`;
  return (
    <p class="md-note" data-testid="md-access-note">
      {workspaces.length === 0
        ? `This account is a member of no workspace yet, so there is nothing to list. To enter one, ${ask}`
        : `As a sub-account you enter the workspaces you are a member of: ${names}${
            current ? "" : " (pick one above)"
          }. For another workspace, ${ask}`}
    </p>
  );
}

export function Workspaces() {
  const workspaces = useTrait("workspaces");
  const workspace = useTrait("workspace");
  const connection = useTrait("connection");
  const host = useTrait("host");
  const can = useCan();
  return (
    <div class="md-workspaces">
      {host === "sidebar" && (
        <p class="md-note" data-testid="md-sidebar-note">
          Switching here sets the default workspace for new connections; kernels already connected keep theirs.
        </p>
      )}
      {workspaces.length === 0 ? (
        <Empty>No workspaces yet.</Empty>
      ) : (
        <ul class="md-ws-list" aria-label="Workspaces">
          {workspaces.map((ws) => (
            <WorkspaceRow key={ws.id} ws={ws} current={ws.id === workspace?.id} />
          ))}
        </ul>
      )}
      {workspace && (
        <CopyCode code={() => switchCode({ connection, workspace: null }, workspace.name)} />
      )}
      {connection.account_kind === "sub" && <AccessNote workspaces={workspaces} current={workspace} account={connection.account} />}
      {connection.account_kind === "main" && can("create_workspace") && <CreateWorkspace />}
    </div>
  );
}
