// The sidebar's profile picker: the configured profiles (the server's `profiles` trait: names and kinds,
// never a secret) with the connected one chosen. Picking one sends the `use_profile` action; the server
// extension reconnects the sidebar with that profile's own credentials and workspace
// (docs/sidebar-protocol.md). A refusal shows in the view as any action's error does.

import type { AnyModel } from "../../js/src/panel/model";

export interface ProfileInfo {
  name: string;
  kind: string;
}

/** What the picker offers: every configured profile, and the connected one even if the file lacks it. */
export function choices(profiles: readonly ProfileInfo[] | undefined, current: string): ProfileInfo[] {
  const listed = [...(profiles ?? [])];
  if (current && !listed.some((p) => p.name === current)) listed.unshift({ name: current, kind: "" });
  return listed;
}

let sent = 0;

/** Send `use_profile`; resolves with whether it succeeded, once its `done` arrives. */
export function useProfile(model: AnyModel, profile: string): Promise<boolean> {
  const id = `use-profile-${(sent += 1)}-${Date.now()}`;
  return new Promise((resolve) => {
    const done = (msg: any) => {
      if (msg?.type !== "done" || msg.id !== id) return;
      model.off("msg:custom", done);
      resolve(Boolean(msg.ok));
    };
    model.on("msg:custom", done);
    model.send({ type: "action", id, name: "use_profile", args: { profile } });
  });
}

/** The picker's DOM: a labelled select, hidden while there is nothing to choose between. */
export class ProfilePicker {
  readonly node: HTMLElement;
  private readonly select: HTMLSelectElement;
  private readonly update = () => this.render();

  constructor(private readonly model: AnyModel) {
    this.node = document.createElement("label");
    this.node.className = "md-sidebar-profile";
    this.node.append("Profile ");
    this.select = document.createElement("select");
    this.select.dataset.testid = "md-sidebar-profile";
    this.select.addEventListener("change", () => void this.pick(this.select.value));
    this.node.append(this.select);
    model.on("change:profiles", this.update);
    model.on("change:connection", this.update);
    this.render();
  }

  dispose(): void {
    this.model.off("change:profiles", this.update);
    this.model.off("change:connection", this.update);
    this.node.remove();
  }

  private current(): string {
    return this.model.get("connection")?.profile || "";
  }

  private render(): void {
    const options = choices(this.model.get("profiles"), this.current());
    this.node.hidden = options.length < 2;
    this.select.replaceChildren(
      ...options.map((p) => {
        const option = document.createElement("option");
        option.value = p.name;
        option.textContent = p.kind ? `${p.name} (${p.kind})` : p.name; // text, never HTML
        return option;
      }),
    );
    this.select.value = this.current();
  }

  private async pick(profile: string): Promise<void> {
    if (!profile || profile === this.current()) return;
    this.select.disabled = true;
    try {
      await useProfile(this.model, profile);
    } finally {
      this.select.disabled = false;
      this.render(); // a refused switch shows the profile still connected
    }
  }
}
