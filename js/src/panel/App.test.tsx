// @vitest-environment jsdom
import { act } from "preact/test-utils";
import { afterEach, describe, expect, it } from "vitest";
import { close, input, open } from "../testing/mounted";
import { FakeModel } from "../testing/fake-model";
import { OPENAI_CONNECTION, sampleModels, sampleTraits, sampleVersions } from "../testing/sample";
import { mount } from "../mount";

const XSS = "<img src=x onerror=alert(1)>";



afterEach(close);

describe("the panel", () => {
  it("renders server strings as text, never as HTML", () => {
    const models = sampleModels(3);
    models[0] = { ...models[0], name: XSS, description: XSS };
    const { el, all } = open({
      view: "models",
      models,
      selected: { model: models[0].id, version: null },
      workspaces: [{ id: "ws-a", name: XSS, role: "admin", is_default: true, description: XSS }],
      error: { code: "X", message: XSS, hint: XSS, action: "use" },
    });
    expect(el.querySelector("img")).toBeNull();
    expect(all("md-model-row")[0].textContent).toContain(XSS);
    expect(el.querySelector('[data-testid="md-error"]')!.textContent).toContain(XSS);
  });

  it("lists the models it has and notes, as text, the part a service refused, with what to do", () => {
    const models = sampleModels(2);
    const note = { code: "Workspace.AccessDenied", message: `PAI workspace 42 does not admit ${XSS}.`, hint: "Ask an admin of PAI workspace 42 to add you as a member." };
    const { el, all, q } = open({ view: "models", models, models_notes: [note] });
    expect(all("md-model-row")).toHaveLength(2);
    expect(q("md-models-note")!.dataset.code).toBe("Workspace.AccessDenied");
    expect(q("md-models-note")!.textContent).toContain(XSS);
    expect(q("md-models-note-hint")!.textContent).toBe(note.hint);
    expect(el.querySelector("img")).toBeNull();
  });

  it("marks the current workspace and switches with one click", () => {
    const { model, all, q } = open();
    const rows = all("md-workspace-row");
    expect(rows.map((r) => r.dataset.id)).toEqual(["ws-a", "ws-b", "ws-c"]);
    expect(rows[0].getAttribute("aria-current")).toBe("true");
    expect(rows[0].contains(q("md-workspace-current"))).toBe(true);
    act(() => rows[1].querySelector("button")!.click());
    expect(model.sent.at(-1)).toMatchObject({ type: "action", name: "use", args: { workspace: "ws-b" } });
    // Python switches and tells every view.
    act(() => model.update({ workspace: sampleTraits().workspaces[1] }));
    expect(all("md-workspace-row")[1].getAttribute("aria-current")).toBe("true");
  });

  it("offers workspace creation to main accounts only", () => {
    expect(open().q("md-create-workspace-name")).not.toBeNull();
    close();
    const sub = open({ connection: { ...sampleTraits().connection, account_kind: "sub" } });
    expect(sub.q("md-create-workspace-name")).toBeNull();
  });

  it("streams chat messages as the trait changes, and stops", () => {
    const models = sampleModels(5); // model 2 and 3 are language models
    const { model, q, all } = open({ view: "inference", models, selected: { model: models[3].id, version: null } });
    const prompt = q<HTMLTextAreaElement>("md-chat-input")!;
    input(prompt, "Hello <b>there</b>");
    act(() => void prompt.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true })));
    expect(model.sent.at(-1)).toMatchObject({ name: "chat", args: { model: models[3].id, prompt: "Hello <b>there</b>" } });
    const chat = (content: string, streaming: boolean) => ({
      model: models[3].id,
      version: null,
      messages: [
        { role: "user", content: "Hello <b>there</b>" },
        { role: "assistant", content },
      ],
      streaming,
    });
    act(() => model.update({ chat: chat("Hi", true) }));
    expect(all("md-chat-message").map((m) => [m.dataset.role, m.textContent])).toEqual([
      ["user", "userHello <b>there</b>"],
      ["assistant", "assistantHi"],
    ]);
    act(() => model.update({ chat: chat("Hi, how can", true) }));
    expect(all("md-chat-message")[1].textContent).toContain("Hi, how can");
    act(() => q("md-chat-stop")!.click());
    expect(model.sent.at(-1)).toMatchObject({ name: "stop" });
  });

  it("keeps Shift+Enter as a newline", () => {
    const models = sampleModels(5);
    const { model, q } = open({ view: "inference", models, selected: { model: models[3].id, version: null } });
    const prompt = q<HTMLTextAreaElement>("md-chat-input")!;
    input(prompt, "line one");
    act(() => void prompt.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", shiftKey: true, bubbles: true })));
    expect(model.sent.filter((m) => m.name === "chat")).toHaveLength(0);
  });

  it("virtualizes 10,000 models and selects with the keyboard", () => {
    const { model, el, all } = open({ view: "models", models: sampleModels(10_000) });
    expect(all("md-model-row").length).toBeLessThan(40);
    const list = el.querySelector<HTMLElement>('[role="listbox"]')!;
    act(() => void list.dispatchEvent(new KeyboardEvent("keydown", { key: "ArrowDown", bubbles: true })));
    act(() => void list.dispatchEvent(new KeyboardEvent("keydown", { key: "ArrowDown", bubbles: true })));
    act(() => void list.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true })));
    expect(model.sent.at(-1)).toMatchObject({ name: "select", args: { model: "model-00001", version: null } });
    expect(list.getAttribute("aria-activedescendant")).toBe(all("md-model-row")[1].id);
  });

  it("filters models by search text", () => {
    const { q, all } = open({ view: "models", models: sampleModels(200) });
    input(q<HTMLInputElement>("md-model-search")!, "model 19");
    expect(all("md-model-row").map((r) => r.textContent!.match(/model \d+/)![0])).toEqual(
      expect.arrayContaining(["model 19", "model 190", "model 199"]),
    );
  });

  it("shows versions with approve buttons for admins, and sends approve", () => {
    const models = sampleModels(3);
    const { model, all, q } = open({
      view: "models",
      models,
      selected: { model: models[1].id, version: null },
      versions: sampleVersions(),
    });
    expect(all("md-version-row")).toHaveLength(5);
    expect(all("md-approve")).toHaveLength(1);
    act(() => q("md-approve")!.click());
    expect(model.sent.at(-1)).toMatchObject({ name: "approve", args: { model: models[1].id, version: "1.4.0" } });
    act(() => model.update({ workspace: { ...sampleTraits().workspace!, role: "developer" } }));
    expect(all("md-approve")).toHaveLength(0);
    expect(q("md-authorize-submit")).toBeNull();
  });

  it("shows the error with its hint and dismisses it", () => {
    const { model, q } = open({
      error: { code: "Workspace.AccessDenied", message: "No access.", hint: "Pass team-a.", action: "use" },
    });
    expect(q("md-error")!.getAttribute("role")).toBe("alert");
    expect(q("md-error-hint")!.textContent).toBe("Pass team-a.");
    act(() => q("md-error")!.querySelector("button")!.click());
    expect(model.sent.at(-1)).toMatchObject({ name: "dismiss_error" });
    act(() => model.update({ error: null }));
    expect(q("md-error")).toBeNull();
  });

  it("validates the register form before sending", () => {
    const { model, q } = open({ view: "register" });
    const submit = q<HTMLButtonElement>("md-register-submit")!;
    expect(submit.disabled).toBe(true);
    input(q<HTMLInputElement>("md-register-source-path")!, "ckpt/iris.onnx");
    input(q<HTMLInputElement>("md-register-model")!, "iris");
    input(q<HTMLInputElement>("md-register-version")!, "1.2");
    expect(submit.disabled).toBe(true);
    input(q<HTMLInputElement>("md-register-version")!, "1.2.0");
    expect(submit.disabled).toBe(false);
    act(() => submit.click());
    const sent = model.sent.at(-1)!;
    expect(sent).toMatchObject({
      name: "register",
      args: { model: "iris", source: { path: "ckpt/iris.onnx" }, fields: { version_name: "1.2.0" } },
    });
  });

  it("switches tabs with the arrow keys and shares the tab through the view trait", () => {
    const { model, q } = open();
    const tab = q("md-tab-workspaces")!;
    act(() => void tab.dispatchEvent(new KeyboardEvent("keydown", { key: "ArrowRight", bubbles: true })));
    expect(model.get("view")).toBe("models");
    expect(model.saves).toBe(1);
    expect(q("md-tab-models")!.getAttribute("aria-selected")).toBe("true");
    act(() => model.update({ view: "register" }));
    expect(q("md-tab-register")!.getAttribute("aria-selected")).toBe("true");
  });

  it("shows running jobs in the header with cancel", () => {
    const { model, q } = open({
      jobs: [{ id: "j1", kind: "upload", label: "Upload iris", status: "running", progress: 0.4, detail: "4 MB of 10 MB", cancellable: true }],
    });
    expect(q("md-job")!.querySelector('[role="progressbar"]')!.getAttribute("aria-valuenow")).toBe("40");
    act(() => q("md-job-cancel")!.click());
    expect(model.sent.at(-1)).toMatchObject({ name: "cancel", args: { job: "j1" } });
  });
});

describe("several views of one model", () => {
  it("stay in step, and each answer reaches only the view that asked", async () => {
    const model = new FakeModel({ ...sampleTraits(), view: "models", models: sampleModels(20) });
    const els = [document.createElement("div"), document.createElement("div")];
    const unmounts: (() => void)[] = [];
    for (const el of els) {
      document.body.append(el);
      act(() => void unmounts.push(mount(model, el)));
    }
    const rows = (el: HTMLElement) => el.querySelectorAll<HTMLElement>('[data-testid="md-model-row"]');
    act(() => rows(els[0])[4].click());
    const select = model.sent.at(-1)!;
    expect(select).toMatchObject({ name: "select", args: { model: "model-00004" } });
    act(() => model.update({ selected: { model: "model-00004", version: null }, versions: sampleVersions() }));
    for (const el of els) {
      expect(el.querySelector(".md-detail-title")!.textContent).toBe("model 4");
      expect(el.querySelectorAll('[data-testid="md-version-row"]')).toHaveLength(5);
    }
    act(() => model.reply(select.id, { ok: true }));
    await act(async () => {});
    act(() => unmounts.forEach((u) => u()));
    expect(model.listenerCount("msg:custom")).toBe(0);
  });
});

// The view reads `connection.capabilities`, never the kind: what the platform cannot do is not offered.
describe("capabilities", () => {
  const tabs = (all: (id: string) => HTMLElement[]) =>
    ["workspaces", "models", "register", "inference"].filter((t) => all(`md-tab-${t}`).length > 0);
  const asOpenAI = (traits: Record<string, unknown> = {}) => {
    const models = sampleModels(3);
    return {
      models,
      ...open({
        connection: OPENAI_CONNECTION,
        workspaces: [{ id: "default", name: "default", role: null, is_default: true, description: "" }],
        workspace: { id: "default", name: "default", role: null, is_default: true, description: "" },
        models,
        selected: { model: models[1].id, version: null },
        ...traits,
      }),
    };
  };

  it("offers every tab on the modeldeck platform", () => {
    expect(tabs(open().all)).toEqual(["workspaces", "models", "register", "inference"]);
  });

  it("has no Register tab on an OpenAI-compatible server, and leaves a view left there", () => {
    const { all, q } = asOpenAI({ view: "register" });
    expect(tabs(all)).toEqual(["workspaces", "models", "inference"]);
    expect(q("md-register-submit")).toBeNull();
    expect(q("md-tab-workspaces")!.getAttribute("aria-selected")).toBe("true");
    expect(q("md-create-workspace-name")).toBeNull();
  });

  it("shows a model without versions, approval or grants where there are none", () => {
    const { q, el } = asOpenAI({ view: "models", versions: sampleVersions(), grants: [] });
    expect(q("md-versions")).toBeNull();
    expect(q("md-approve")).toBeNull();
    expect(q("md-authorize-workspace")).toBeNull();
    expect(el.textContent).not.toContain("Register a new version");
  });

  it("the native platform shows them for an admin of an owned model", () => {
    const models = sampleModels(3);
    const { q } = open({ view: "models", models, selected: { model: models[1].id, version: null }, versions: sampleVersions() });
    expect(q("md-versions")).not.toBeNull();
    expect(q("md-approve")).not.toBeNull();
    expect(q("md-authorize-workspace")).not.toBeNull();
  });

  it("chats without a version picker or predict on an OpenAI-compatible server", () => {
    const { q, el } = asOpenAI({ view: "inference" }); // models[1] is a classification model: still chat
    expect(q("md-chat-input")).not.toBeNull();
    expect(q("md-predict-input")).toBeNull();
    expect(el.querySelector('[aria-label="Call as"]')).toBeNull();
    expect([...el.querySelectorAll("label")].map((l) => l.textContent)).not.toContain("Version");
  });

  it("chats with a model Model Studio authorizes, though the platform predicts too (through EAS)", () => {
    const models = sampleModels(3).map((m) => ({ ...m, source: "authorized" as const, task: "", latest_format: null }));
    const { q } = open({ view: "inference", models, selected: { model: models[1].id, version: null } });
    expect(q("md-chat-input")).not.toBeNull();
    expect(q("md-predict-input")).toBeNull();
  });

  it("a platform without approve shows versions but no decision buttons", () => {
    const models = sampleModels(3);
    const capabilities = sampleTraits().connection.capabilities!.filter((c) => c !== "approve");
    const { q } = open({
      view: "models", models, selected: { model: models[1].id, version: null }, versions: sampleVersions(),
      connection: { ...sampleTraits().connection, capabilities },
    });
    expect(q("md-versions")).not.toBeNull();
    expect(q("md-approve")).toBeNull();
  });

  it("a PAI registry model (Alibaba) shows its versions, and Approve when the caller's PAI role allows it", () => {
    const workspace = { id: "ws_1", name: "default", role: null, is_default: true, description: "" };
    const pai = (actions: string[]) =>
      sampleModels(3).map((m) => ({ ...m, source: "pai" as const, owner_workspace_name: "", actions }));
    const admin = pai(["register", "approve"]);
    const shown = open({ view: "models", models: admin, workspace, selected: { model: admin[1].id, version: null },
                         versions: sampleVersions() });  // prettier-ignore
    expect(shown.q("md-versions")).not.toBeNull();
    expect(shown.q("md-approve")).not.toBeNull();
    expect(shown.q("md-authorize-workspace")).toBeNull(); // PAI grants nothing: Model Studio does
    const row = shown.el.querySelector<HTMLElement>("[data-testid=md-model-row][data-source=pai]")!;
    expect(row.textContent).toContain("PAI registry");
    close();
    const developer = pai(["register"]);
    const { q } = open({ view: "models", models: developer, workspace, selected: { model: developer[1].id, version: null },
                         versions: sampleVersions() });  // prettier-ignore
    expect(q("md-versions")).not.toBeNull();
    expect(q("md-approve")).toBeNull();
  });
});

describe("a host that has not loaded yet", () => {
  it("renders every tab from empty traits", () => {
    for (const view of ["workspaces", "models", "register", "inference"]) {
      const { q } = open({ view, connection: {}, enums: {}, chat: {}, selected: {}, models: [], workspace: null });
      expect(q("md-panel")).not.toBeNull();
      close();
    }
  });
});

// The view hosted by the JupyterLab sidebar (`host: "sidebar"`): "Insert code" beside every "Copy as code",
// and the note on what a workspace switch there changes.

const pick = (el: HTMLElement, selector: string) => [...el.querySelectorAll<HTMLElement>(selector)];

/** The code an "Insert code" click sends, and that it sent nothing else. */
function insert(model: FakeModel, button: HTMLElement): string {
  const before = model.sent.length;
  act(() => button.click());
  expect(model.sent.length).toBe(before + 1);
  const msg = model.sent.at(-1) as unknown as { type: string; code: string };
  expect(msg.type).toBe("insert_code");
  return msg.code;
}

describe("in a notebook", () => {
  it("has no sidebar extras", () => {
    const models = sampleModels(3);
    const { all } = open({ view: "models", models, selected: { model: models[1].id, version: null } });
    expect(all("md-copy-code").length).toBeGreaterThan(0);
    expect(all("md-insert-code")).toEqual([]);
    act(() => all("md-tab-workspaces")[0].click());
    expect(all("md-sidebar-note")).toEqual([]);
  });
});

/** The sidebar shows a model's details once its row is clicked there (the list comes first). */
function openDetails(el: HTMLElement) {
  act(() => el.querySelector<HTMLElement>('[data-testid="md-model-row"][aria-selected="true"]')!.click());
}

describe("in the sidebar", () => {
  it("says what a workspace switch changes, and inserts the switch as code", () => {
    const { model, all } = open({ host: "sidebar" });
    expect(all("md-sidebar-note")[0].textContent).toMatch(/default workspace for new connections/);
    const [button] = all("md-insert-code");
    expect(insert(model, button)).toBe('import modeldeck as md\n\ndeck = md.connect()\ndeck.use("team-a")');
  });

  it("inserts connect and use, predict and register for a selected version of an owned model", () => {
    const models = sampleModels(3);
    const { model, el } = open({
      host: "sidebar",
      view: "models",
      models,
      selected: { model: models[1].id, version: "1.3.0" },
      versions: sampleVersions(),
    });
    openDetails(el);
    const snippets = pick(el, ".md-copy[data-snippet]");
    expect(snippets.map((s) => s.dataset.snippet)).toEqual(["use", "predict", "register"]);
    for (const s of snippets) expect(s.querySelector('[data-testid="md-copy-code"]')).not.toBeNull();
    const code = (name: string) => insert(model, pick(el, `[data-snippet="${name}"] [data-testid="md-insert-code"]`)[0]);
    expect(code("use")).toContain(`version = deck.version("${models[1].name}", "1.3.0")`);
    expect(code("predict")).toContain(`deck.predict("${models[1].name}", inputs, version="1.3.0")`);
    expect(code("register")).toContain('deck.register("model 1", "path/to/checkpoint")');
    // Nothing went to Python: inserting is the host's job.
    expect(model.sent.filter((m) => m.type === "action")).toEqual([]);
  });

  it("prefills predict from the version's signature, labels classes and shows the latency", () => {
    const models = sampleModels(3);
    const signed = sampleVersions().map((v) => ({
      ...v,
      signature: {
        inputs: [{ name: "X", dtype: "float64", shape: [null, 2] }],
        outputs: [{ name: "probabilities", dtype: "float64", shape: [null, 2] }],
        features: ["sepal_length", "petal_width"],
        classes: ["setosa", "virginica"],
      },
      runnable: true,
    }));
    const { model, q } = open({
      view: "inference",
      models,
      selected: { model: models[1].id, version: "1.3.0" },
      versions: signed,
      prediction: {
        model: models[1].id, version: "1.3.0", columns: ["probabilities"], rows: [[[0.123456, 0.876544]]],
        task: null, latency_ms: 12.34,
      },
    });
    const inputs = q<HTMLTextAreaElement>("md-predict-input")!;
    expect(JSON.parse(inputs.value)).toEqual([{ sepal_length: 0, petal_width: 0 }]);
    expect(q("md-predict-output")!.textContent).toContain("setosa: 0.123, virginica: 0.877");
    expect(q("md-predict-latency")!.textContent).toContain("12.3 ms");
    expect(q("md-not-runnable")).toBeNull();
    act(() => model.set("versions", signed.map((v) => ({ ...v, runnable: false, not_runnable_reason: "A pickle runs code." }))));
    expect(q("md-not-runnable")!.textContent).toContain("A pickle runs code.");
  });

  it("offers chat for a language model, and no register for a granted one", () => {
    const models = sampleModels(5); // model 3: a chat model, granted by team-b
    const { model, el } = open({ host: "sidebar", view: "models", models, selected: { model: models[3].id, version: null } });
    openDetails(el);
    expect(pick(el, ".md-copy[data-snippet]").map((s) => s.dataset.snippet)).toEqual(["use", "chat"]);
    const chat = insert(model, pick(el, '[data-snippet="chat"] [data-testid="md-insert-code"]')[0]);
    expect(chat).toContain(`deck.chat("${models[3].name}", messages, stream=True)`);
    const use = insert(model, pick(el, '[data-snippet="use"] [data-testid="md-insert-code"]')[0]);
    expect(use).toContain(`model = deck.model("${models[3].name}")`);
  });

  it("names a model by id when its name is not unique here (owned and granted alike)", () => {
    const models = sampleModels(3);
    const twin = { ...models[1], id: "mdl-000000000777", source: "granted" as const };
    const { model, el } = open({ host: "sidebar", view: "models", models: [...models, twin],
      selected: { model: twin.id, version: null } });  // prettier-ignore
    openDetails(el);
    const use = insert(model, pick(el, '[data-snippet="use"] [data-testid="md-insert-code"]')[0]);
    expect(use).toContain('model = deck.model("mdl-000000000777")');
  });
});

describe("workspace access", () => {
  it("tells a sub-account why other workspaces are missing and who can add it", () => {
    const { all } = open({
      view: "workspaces",
      connection: { ...(sampleTraits().connection as object), account: "alice", account_kind: "sub" },
    });
    const [note] = all("md-access-note");
    expect(note.textContent).toMatch(/you are a member of: team-a, team-b, research\./); // the list above, not "none"
    expect(note.textContent).toContain('deck.add_member("workspace", "alice", role="developer")');
  });

  it("says nothing of it to the main account, which may enter every workspace", () => {
    const { all } = open({ view: "workspaces" });
    expect(all("md-access-note")).toEqual([]);
  });

  it("says in one line when its connection was closed, and reconnects", () => {
    const { model, q } = open();
    expect(q("md-connection-banner")).toBeNull();
    act(() => model.update({
      connection: { ...(sampleTraits().connection as object), status: "closed" },
      error: { code: "Deck.Closed", message: "closed", hint: "Click Reconnect", action: "refresh" },
    }));
    expect(q("md-connection-banner")!.textContent).toMatch(/connection was closed/);
    expect(q("md-error")).toBeNull(); // one line, not two
    act(() => q("md-reconnect")!.click());
    const sent = model.sent.at(-1)!;
    expect(sent).toMatchObject({ type: "action", name: "reconnect" });
    expect(q<HTMLButtonElement>("md-reconnect")!.disabled).toBe(true);
    act(() => {
      model.reply(sent.id, { ok: true, result: null });
      model.update({ connection: sampleTraits().connection, error: null });
    });
    expect(q("md-connection-banner")).toBeNull();
  });

  it("says when the kernel behind it went away", () => {
    const { model, q } = open();
    act(() => model.closeComm());
    expect(q("md-connection-banner")!.textContent).toMatch(/kernel behind this panel stopped or restarted/);
    expect(q("md-reconnect")).toBeNull();
  });
});
