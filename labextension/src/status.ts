// The status bar item: the sidebar's profile and workspace at a glance; a click opens the sidebar.

import { Widget } from "@lumino/widgets";
import type { SidebarModel } from "./shim";

export class DeckStatus extends Widget {
  constructor(open: () => void) {
    super({ node: document.createElement("button") });
    this.addClass("md-statusbar-item");
    this.node.dataset.testid = "md-status";
    this.node.title = "modeldeck: open the sidebar";
    this.node.addEventListener("click", open);
    this.node.textContent = "modeldeck";
  }

  follow(model: SidebarModel): void {
    const update = () => {
      const profile = model.get("connection")?.profile || "—";
      const workspace = model.get("workspace")?.name || "no workspace";
      this.node.textContent = `modeldeck: ${profile} · ${workspace}`;
    };
    model.on("change:connection", update);
    model.on("change:workspace", update);
    update();
  }
}
