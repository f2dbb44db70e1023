// What the connected platform can do decides what the view shows: never its kind (docs/panel-protocol.md).

import type { Capability, Connection, Tab } from "./types";

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
