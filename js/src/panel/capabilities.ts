// What the connected platform can do decides what the view shows: never its kind (docs/panel-protocol.md).

import type { Capability, Connection, ModelInfo, Tab } from "./types";

/** Whether the platform can do `capability`; before the kernel has said (or from an older kernel), it can. */
export function can(connection: Pick<Connection, "capabilities">, capability: Capability): boolean {
  return !connection.capabilities || connection.capabilities.includes(capability);
}

/** What a tab needs: any one of these. */
const TAB_NEEDS: Record<Tab, Capability[]> = {
  workspaces: ["workspaces"],
  models: ["models"],
  register: ["register"],
  inference: ["predict", "chat"],
  deployments: ["deployments"],
};

export function shownTab(connection: Pick<Connection, "capabilities">, tab: Tab): boolean {
  return TAB_NEEDS[tab].some((need) => can(connection, need));
}

/** Whether a listed model is in a version registry: not one Model Studio authorizes (DashScope's). The
 * kernel's `state.versioned_model` is the same rule. */
export function versioned(model: Pick<ModelInfo, "source">): boolean {
  return model.source !== "authorized";
}

/** Whether the Deploy form serves this model: the caller may deploy it (its actions say so) and it has versions,
 * since a deployment serves a registered version. Model Studio's own `deploy` authorization is for its own
 * deployments, which no provider drives; on an Alibaba profile PAI's rows are deployed, as EAS services. */
export function deployable(model: Pick<ModelInfo, "source" | "actions">): boolean {
  return versioned(model) && (model.actions ?? []).includes("deploy");
}
