// The left-sidebar panel: the profile picker and the notebook Panel's view (js/src/panel) mounted over the
// websocket shim, or, when the handshake fails, the sentence that says how to fix it.

import { Widget } from "@lumino/widgets";
import { mount } from "../../js/src/mount";
import { deckIcon } from "./icon";
import { ProfilePicker } from "./profiles";
import type { SidebarModel } from "./shim";

export class DeckSidebar extends Widget {
  private unmount: (() => void) | null = null;
  private picker: ProfilePicker | null = null;
  private readonly body = document.createElement("div");
  private readonly banner = document.createElement("div");

  constructor() {
    super();
    this.id = "modeldeck-sidebar";
    this.title.icon = deckIcon;
    this.title.caption = "modeldeck";
    this.addClass("md-sidebar");
    this.node.dataset.testid = "md-sidebar";
    this.banner.className = "md-sidebar-banner";
    this.banner.setAttribute("role", "status");
    this.banner.hidden = true;
    this.body.className = "md-sidebar-body";
    this.node.append(this.banner, this.body);
    this.showMessage("Connecting to the modeldeck server extension…");
  }

  /** The view under the profile picker, with a banner while the socket reconnects (the view keeps its last
   * state meanwhile). */
  showView(model: SidebarModel): void {
    this.clear();
    this.picker = new ProfilePicker(model);
    this.banner.after(this.picker.node);
    this.unmount = mount(model, this.body);
    const status = (live: boolean) => {
      this.banner.hidden = live;
      this.banner.textContent = live ? "" : "Reconnecting to the Jupyter server…";
    };
    model.on("status", status);
    status(model.connected);
  }

  /** A failed handshake: its fix, with `code` spans, instead of the view. */
  showProblem(message: string): void {
    this.clear();
    const p = document.createElement("p");
    p.className = "md-sidebar-mismatch";
    p.dataset.testid = "md-sidebar-mismatch";
    p.setAttribute("role", "alert");
    // Backticks mark commands; everything is text, nothing is parsed as HTML.
    message.split("`").forEach((part, i) => {
      if (i % 2 === 0) p.append(part);
      else p.append(Object.assign(document.createElement("code"), { textContent: part }));
    });
    this.body.append(p);
  }

  private showMessage(text: string): void {
    this.body.append(Object.assign(document.createElement("p"), { className: "md-sidebar-message", textContent: text }));
  }

  private clear(): void {
    this.unmount?.();
    this.unmount = null;
    this.picker?.dispose();
    this.picker = null;
    this.body.replaceChildren();
  }

  dispose(): void {
    this.clear();
    super.dispose();
  }
}
