// A page that mounts the panel over a FakeModel playing the kernel's part, for looking at the view in a
// real browser without a kernel: `npm run harness`, then serve js/ and open dev/harness.html.
// Query: ?models=10000 for the list size, ?theme=dark for dark --jp-* variables, ?host=sidebar for the
// sidebar's extras (its "Insert code" messages are logged to the console).

import { FakeModel, type ActionMessage } from "../src/testing/fake-model";
import { sampleTraits, sampleVersions } from "../src/testing/sample";
import type { Job, Traits } from "../src/panel/types";
import { mount } from "../src/widget";

const query = new URLSearchParams(location.search);
const host = query.get("host") === "sidebar" ? "sidebar" : "notebook";
const traits: Traits = { ...sampleTraits(Number(query.get("models") ?? 10_000)), host };
if (query.get("view")) traits.view = query.get("view") as Traits["view"];
const model = new FakeModel({ ...traits });
const get = <K extends keyof Traits>(name: K): Traits[K] => model.get(name);
const later = (ms: number) => new Promise((r) => setTimeout(r, ms));

function job(row: Omit<Job, "status" | "progress" | "detail">): (patch: Partial<Job>) => void {
  model.set("jobs", [{ ...row, status: "running", progress: 0, detail: "" }, ...get("jobs")].slice(0, 20));
  return (patch) => model.set("jobs", get("jobs").map((j) => (j.id === row.id ? { ...j, ...patch } : j)));
}

let stopped = false;

const handlers: Record<string, (args: any, id: string) => Promise<unknown>> = {
  async refresh() {
    await later(400);
  },
  async use({ workspace }) {
    const ws = get("workspaces").find((w) => w.id === workspace);
    if (!ws) throw { code: "Workspace.NotFound", message: `No workspace ${workspace}.`, hint: "Refresh the list." };
    model.update({ workspace: ws, selected: { model: null, version: null }, versions: [], grants: [] });
    return ws;
  },
  async create_workspace({ name, description }) {
    const ws = { id: `ws-${name}`, name, role: "admin", is_default: false, description };
    model.set("workspaces", [...get("workspaces"), ws]);
    return ws;
  },
  async select({ model: id, version }) {
    model.update({
      selected: { model: id, version },
      versions: id ? sampleVersions() : [],
      grants: id ? [{ workspace_id: "ws-b", workspace_name: "team-b", actions: ["inference"] }] : [],
    });
  },
  async approve({ version }) {
    model.set("versions", get("versions").map((v) => (v.version_name === version ? { ...v, approval_status: "Approved" } : v)));
  },
  async reject({ version }) {
    model.set("versions", get("versions").map((v) => (v.version_name === version ? { ...v, approval_status: "Rejected" } : v)));
  },
  async authorize({ workspace, actions }) {
    const name = get("workspaces").find((w) => w.id === workspace)?.name ?? workspace;
    model.set("grants", [...get("grants").filter((g) => g.workspace_id !== workspace), { workspace_id: workspace, workspace_name: name, actions }]);
  },
  async revoke({ workspace }) {
    model.set("grants", get("grants").filter((g) => g.workspace_id !== workspace));
  },
  async list_variables() {},
  async register({ model: name, fields }, id) {
    const update = job({ id: `job-${id.slice(0, 6)}`, kind: "register", label: `register ${name}`, cancellable: true, action: id });
    for (let i = 1; i <= 20; i++) {
      await later(100);
      update({ progress: i / 20, detail: `${i} MB of 20 MB` });
    }
    update({ status: "succeeded", progress: 1, detail: name });
    return { ...sampleVersions()[0], version_name: fields.version_name || "1.5.0" };
  },
  async chat({ model: id, prompt }) {
    stopped = false;
    const history = get("chat").model === id ? get("chat").messages : [];
    const messages = [...history, { role: "user", content: prompt }];
    const reply = `You said: ${prompt}. Here is a longer answer, streamed token by token, to show the transcript growing.`;
    let text = "";
    model.set("chat", { model: id, version: null, streaming: true, messages: [...messages, { role: "assistant", content: "" }] });
    for (const token of reply.split(/(?=\s)/)) {
      if (stopped) break;
      await later(60);
      text += token;
      model.set("chat", { ...get("chat"), messages: [...messages, { role: "assistant", content: text }] });
    }
    model.set("chat", { ...get("chat"), streaming: false });
    return { text };
  },
  async stop() {
    stopped = true;
  },
  async clear_chat() {
    model.set("chat", { model: null, version: null, messages: [], streaming: false });
  },
  async predict({ model: id, inputs, as_task }) {
    const rows = Array.isArray(inputs) ? inputs : [inputs];
    const task = as_task ? { id: "task-1", status: "RUNNING" } : null;
    model.set("prediction", { model: id, version: "1.3.0", columns: [], rows: [], task });
    await later(as_task ? 800 : 100);
    model.set("prediction", {
      model: id,
      version: "1.3.0",
      columns: ["label", "probability"],
      rows: rows.map((_: unknown, i: number) => [i % 2 ? "versicolor" : "setosa", 0.9 - i * 0.1]),
      task: task && { ...task, status: "SUCCEEDED" },
    });
  },
  async dismiss_error() {
    model.set("error", null);
  },
  async cancel() {},
};

model.onAction = async (msg: ActionMessage) => {
  if ((msg as { type: string }).type === "insert_code") return console.log("insert_code", msg);
  const handler = handlers[msg.name];
  try {
    const result = handler ? await handler(msg.args, msg.id) : null;
    model.reply(msg.id, { ok: true, result });
  } catch (e: any) {
    const error = { code: e.code ?? "Harness", message: e.message ?? String(e), hint: e.hint ?? "" };
    model.set("error", { ...error, action: msg.name });
    model.reply(msg.id, { ok: false, error });
  }
};

if (query.get("theme") === "dark") document.documentElement.classList.add("dark");
(window as any).deck = model; // for the browser test to play the kernel
mount(model, document.getElementById("panel")!);
