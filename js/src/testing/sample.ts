// Sample trait values shaped like DeckState's, for tests and the dev harness.

import { DEFAULTS, type Capability, type Connection, type ModelInfo, type Traits, type Version } from "../panel/types";

/** The capabilities of the modeldeck platform, and of an OpenAI-compatible server (modeldeck.providers). */
export const NATIVE: readonly Capability[] = [
  "workspaces", "switch", "create_workspace", "members", "accounts", "models", "grants", "versions", "register",
  "approve", "predict", "chat", "tasks", "keys", "endpoints", "events", "deployments",
];
export const OPENAI: readonly Capability[] = ["workspaces", "switch", "models", "chat"];

/** The connection of an `openai` profile, as DeckState publishes it. */
export const OPENAI_CONNECTION: Connection = {
  profile: "vllm", kind: "openai", provider: "openai", url: "http://127.0.0.1:8000/v1", account: "",
  account_kind: "", capabilities: [...OPENAI],
};

const TASKS = ["classification", "regression", "text-generation", "chat", "object-detection"];

export function sampleModels(count: number): ModelInfo[] {
  return Array.from({ length: count }, (_, i) => {
    const owned = i % 3 !== 0;
    const approval = (["Approved", "Pending", "Rejected"] as const)[i % 3];
    return {
      id: `model-${String(i).padStart(5, "0")}`,
      name: `model ${i}`,
      task: TASKS[i % TASKS.length],
      domain: "tabular",
      owner_workspace_id: owned ? "ws-a" : "ws-b",
      owner_workspace_name: owned ? "team-a" : "team-b",
      source: owned ? "owned" : "granted",
      actions: owned ? ["inference", "fine_tune", "deploy"] : ["inference"],
      latest_version: `1.${i % 7}.0`,
      latest_approval: approval,
      labels: { team: owned ? "a" : "b" },
      description: `Sample model number ${i}.`,
    };
  });
}

export function sampleVersions(): Version[] {
  return [4, 3, 2, 1, 0].map((minor) => ({
    version_name: `1.${minor}.0`,
    format_type: "ONNX",
    framework_type: "ScikitLearn",
    approval_status: minor === 4 ? "Pending" : minor === 2 ? "Rejected" : "Approved",
    metrics: { accuracy: 0.82 + minor * 0.03 - (minor === 2 ? 0.05 : 0), f1: 0.78 + minor * 0.025 },
    labels: { team: "a", stage: minor === 4 ? "candidate" : "prod" },
    uri: `blob://sha256/${minor}`,
    created_at: `2025-0${minor + 1}-15T10:30:00Z`,
    description: "",
  }));
}

/** What the notebook Panel sends: every trait but `host`, which only the sidebar has. */
export function sampleTraits(models = 50): Omit<Traits, "host"> {
  const workspaces = [
    { id: "ws-a", name: "team-a", role: "admin", is_default: true, description: "The default workspace." },
    { id: "ws-b", name: "team-b", role: "developer", is_default: false, description: "Shared models of team B." },
    { id: "ws-c", name: "research", role: "viewer", is_default: false, description: "" },
  ];
  const { host: _notebookHasNone, ...empty } = DEFAULTS;
  return {
    ...empty, // nothing selected, no jobs, no chat, no prediction, no error, on the Workspaces tab
    version: "0.1.0",
    connection: {
      profile: "default", kind: "local", provider: "native", url: "http://127.0.0.1:8765", account: "main",
      account_kind: "main", capabilities: [...NATIVE],
    },
    workspace: workspaces[0],
    workspaces,
    models: sampleModels(models),
    variables: [{ name: "clf", type: "RandomForestClassifier", format: "SkopsModel" }],
    enums: {
      format_type: ["ONNX", "SkopsModel", "XGBoost", "SafeTensors", "PickleModel"],
      framework_type: ["ScikitLearn", "XGBoost", "ONNX", "Transformers", "Pytorch"],
      task: TASKS,
      actions: ["inference", "fine_tune", "deploy"],
      roles: ["viewer", "developer", "admin"],
    },
  };
}
