// "Copy as code": the Python that does what the panel is about to do, built from the same arguments as
// the action. It names a profile, never a key or a URL.

import { can } from "./capabilities";
import type { Connection, Message } from "./types";

/** A Python literal for JSON-like data. JSON string escapes are valid Python escapes. */
export function py(value: unknown): string {
  if (value === null || value === undefined) return "None";
  if (value === true) return "True";
  if (value === false) return "False";
  if (typeof value === "number") return Number.isFinite(value) ? String(value) : "float('nan')";
  if (typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(py).join(", ")}]`;
  if (typeof value === "object") {
    return `{${Object.entries(value as object).map(([k, v]) => `${JSON.stringify(k)}: ${py(v)}`).join(", ")}}`;
  }
  return JSON.stringify(String(value));
}

/** `name=value` keyword arguments, skipping the ones left out. */
export function kwargs(pairs: Record<string, unknown>): string[] {
  return Object.entries(pairs)
    .filter(([, v]) => v !== undefined && v !== null && v !== "")
    .map(([k, v]) => `${k}=${py(v)}`);
}

export function call(fn: string, args: string[]): string {
  const flat = `${fn}(${args.join(", ")})`;
  if (flat.length <= 100) return flat;
  return `${fn}(\n${args.map((a) => `    ${a},`).join("\n")}\n)`;
}

export interface CodeContext {
  connection: Pick<Connection, "profile" | "capabilities">;
  workspace: string | null; // the current workspace's name
}

/** The opening lines: connect by profile, then the workspace where workspaces are real ones (they can be
 * created); an implicit one, like an OpenAI-compatible server's, is always current. */
export function preamble({ connection, workspace }: CodeContext): string {
  const profile = connection.profile && connection.profile !== "default" ? py(connection.profile) : "";
  const lines = ["import modeldeck as md", "", `deck = md.connect(${profile})`];
  if (workspace && can(connection, "create_workspace")) lines.push(`deck.use(${py(workspace)})`);
  return lines.join("\n");
}

export function switchCode(ctx: CodeContext, workspace: string): string {
  return preamble({ ...ctx, workspace });
}

/** Connect, use the workspace and fetch the model, or one of its versions: the start of code about it. */
export function modelCode(ctx: CodeContext, args: { model: string; version?: string | null }): string {
  const fetch = args.version
    ? `version = deck.version(${py(args.model)}, ${py(args.version)})\nprint(version.version_name, version.approval_status)`
    : `model = deck.model(${py(args.model)})\nprint(model.model_name, model.task)`;
  return `${preamble(ctx)}\n\n${fetch}\n`;
}

export type Source = { path: string } | { uri: string } | { variable: string };

export interface RegisterFields {
  version_name?: string;
  format_type?: string;
  framework_type?: string;
  labels?: Record<string, string>;
  metrics?: Record<string, number>;
  description?: string;
}

export interface RegisterArgs {
  model: string;
  source: Source;
  fields: RegisterFields;
}

/** The same arguments the `register` action carries, as a call of `Deck.register`. */
export function registerCode(ctx: CodeContext, args: RegisterArgs): string {
  const f = args.fields;
  const fromVariable = "variable" in args.source;
  let before = "";
  let source: string;
  if ("variable" in args.source) {
    // A kernel variable has no path: write it as a checkpoint first, as the panel does.
    before = `from modeldeck.checkpoints import save_for_register\n\npath, fmt, framework = save_for_register(${args.source.variable}, "checkpoints")\n`;
    source = "path";
  } else {
    source = py("path" in args.source ? args.source.path : args.source.uri);
  }
  const rest = [
    ...kwargs({ version: f.version_name }),
    f.format_type ? `format=${py(f.format_type)}` : fromVariable ? "format=fmt" : "",
    f.framework_type ? `framework=${py(f.framework_type)}` : fromVariable ? "framework=framework" : "",
    ...kwargs({
      metrics: f.metrics && Object.keys(f.metrics).length ? f.metrics : undefined,
      labels: f.labels && Object.keys(f.labels).length ? f.labels : undefined,
      description: f.description,
    }),
  ].filter(Boolean);
  const body = `v = ${call("deck.register", [py(args.model), source, ...rest])}\nprint(v.version_name, v.approval_status)`;
  return `${preamble(ctx)}\n${before ? `\n${before}` : ""}${body}\n`;
}

export interface PredictArgs {
  model: string;
  version?: string | null;
  /** Left out (a model picked before any inputs were typed): a placeholder to fill in. */
  inputs?: unknown;
  as_task: boolean;
}

const INPUTS_PLACEHOLDER = "[]  # an array, a dict of input name to array, or a list of row dicts";

export function predictCode(ctx: CodeContext, args: PredictArgs): string {
  const head = [py(args.model), "inputs", ...kwargs({ version: args.version })];
  const body = args.as_task
    ? `task = ${call("deck.predict", [...head, "wait=False"])}\nprediction = task.result()`
    : `prediction = ${call("deck.predict", head)}`;
  const inputs = args.inputs === undefined ? INPUTS_PLACEHOLDER : py(args.inputs);
  return `${preamble(ctx)}\n\ninputs = ${inputs}\n${body}\nprint(prediction.outputs)\n`;
}

export interface ChatArgs {
  model: string;
  version?: string | null;
  prompt: string;
  params: { max_tokens?: number; temperature?: number; top_p?: number; seed?: number };
  history?: readonly Message[];
}

export function chatCode(ctx: CodeContext, args: ChatArgs): string {
  const history = (args.history ?? []).map(({ role, content }) => ({ role, content }));
  const messages = history.length ? py([...history, { role: "user", content: args.prompt }]) : py(args.prompt);
  const stream = call("deck.chat", [
    py(args.model),
    "messages",
    "stream=True",
    ...kwargs({ version: args.version, ...args.params }),
  ]);
  return `${preamble(ctx)}\n\nmessages = ${messages}\nfor chunk in ${stream}:\n    print(chunk.text, end="")\n`;
}

// ---- the same calls for other clients: curl, and the OpenAI SDK for chat ------------------------------
// The address and the key come from the environment (`modeldeck endpoints` prints the URL lines; the key is
// the user's own), so a snippet never holds a secret.

const KEY_VARIABLE = "MODELDECK_API_KEY";

/** The predict request body, as `deck.predict` maps its inputs (`predict_body`). */
export function predictBody(inputs: unknown): Record<string, unknown> {
  if (inputs && typeof inputs === "object" && !Array.isArray(inputs)) {
    const keys = Object.keys(inputs);
    if (keys.length === 1 && ["inputs", "records", "columns"].includes(keys[0])) return inputs as Record<string, unknown>;
    return { inputs };
  }
  const rows = Array.isArray(inputs) && inputs.length > 0 && inputs.every((r) => r && typeof r === "object" && !Array.isArray(r));
  return rows ? { records: inputs } : { inputs: inputs ?? [] };
}

/** A word safe in a shell's single quotes. */
function shellQuoted(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

function curl(url: string, body: unknown, workspace: string | null): string {
  const lines = [
    `curl -sS ${url}`,
    `  -H "Authorization: Bearer $${KEY_VARIABLE}"`,
    ...(workspace ? [`  -H ${shellQuoted(`X-ModelDeck-Workspace: ${workspace}`)}`] : []),
    `  -H "Content-Type: application/json"`,
    `  -d ${shellQuoted(JSON.stringify(body))}`,
  ];
  return lines.join(" \\\n");
}

function workspaceOf(ctx: CodeContext): string | null {
  return ctx.workspace && can(ctx.connection, "create_workspace") ? ctx.workspace : null;
}

const CURL_SETUP = `# MODELDECK_URL and OPENAI_BASE_URL: from \`modeldeck endpoints\`; ${KEY_VARIABLE}: your key`;

export function predictCurl(ctx: CodeContext, args: PredictArgs): string {
  const path = args.version
    ? `models/${encodeURIComponent(args.model)}/versions/${encodeURIComponent(args.version)}/predict`
    : `models/${encodeURIComponent(args.model)}/predict`;
  return `${CURL_SETUP}\n${curl(`"$MODELDECK_URL/api/v1/${path}"`, predictBody(args.inputs), workspaceOf(ctx))}\n`;
}

function chatMessages(args: ChatArgs): Message[] {
  const history = (args.history ?? []).map(({ role, content }) => ({ role, content }));
  return [...history, { role: "user", content: args.prompt }];
}

export function chatCurl(ctx: CodeContext, args: ChatArgs): string {
  const body = { model: args.model, messages: chatMessages(args), ...args.params };
  return `${CURL_SETUP}\n${curl(`"$OPENAI_BASE_URL/chat/completions"`, body, workspaceOf(ctx))}\n`;
}

/** The official `openai` SDK against the platform's OpenAI-compatible `/v1` (the model is named as here). */
export function chatOpenAI(ctx: CodeContext, args: ChatArgs): string {
  const workspace = workspaceOf(ctx);
  const client = call("OpenAI", [
    `api_key=os.environ[${py(KEY_VARIABLE)}]`,
    ...(workspace ? [`default_headers={"X-ModelDeck-Workspace": ${py(workspace)}}`] : []),
  ]);
  const create = call("client.chat.completions.create", [
    `model=${py(args.model)}`,
    `messages=${py(chatMessages(args))}`,
    ...kwargs(args.params),
  ]);
  return [
    "import os",
    "",
    "from openai import OpenAI",
    "",
    "# OPENAI_BASE_URL: from `modeldeck endpoints`",
    `client = ${client}`,
    `reply = ${create}`,
    "print(reply.choices[0].message.content)",
    "",
  ].join("\n");
}
