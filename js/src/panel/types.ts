// The trait shapes of docs/panel-protocol.md. Python owns all of them except `view`.

/** What a connected platform can do (modeldeck.providers.base.CAPABILITIES); the view shows only these. */
export type Capability =
  | "workspaces" | "switch" | "create_workspace" | "members" | "accounts" | "models" | "grants" | "versions"
  | "register" | "approve" | "predict" | "chat" | "tasks" | "keys" | "endpoints" | "events" | "deployments";

export interface Connection {
  profile: string;
  /** The profile kind (modeldeck.providers.KINDS), for showing only: the view decides by `capabilities`. */
  kind: string;
  provider?: string;
  url: string;
  /** Absent until the kernel has connected (and from an older kernel): then the view shows everything. */
  capabilities?: Capability[];
  /** The engines its deployments run on; absent from an older kernel: the native platform's two. */
  engines?: string[];
  account: string;
  account_kind: "main" | "sub" | "";
  /** "closed" once the deck behind the panel was closed (`deck.close()`): the view offers Reconnect. */
  status?: "connected" | "closed";
}

export interface Workspace {
  id: string;
  name: string;
  role: string;
  is_default: boolean;
  description: string;
}

export type Approval = "Pending" | "Approved" | "Rejected";

export interface ModelInfo {
  id: string;
  name: string;
  task: string;
  domain: string;
  owner_workspace_id: string;
  owner_workspace_name: string;
  source: "owned" | "granted" | "public" | "authorized" | "pai";
  actions: string[];
  latest_version: string | null;
  latest_approval: Approval | null;
  latest_format?: string | null;
  labels: Record<string, string>;
  description: string;
}

export interface Selection {
  model: string | null;
  version: string | null;
}

export interface Version {
  version_name: string;
  format_type: string;
  framework_type: string;
  approval_status: Approval;
  metrics: Record<string, number>;
  labels: Record<string, string>;
  uri: string;
  created_at: string;
  description: string;
  /** What registration found by loading the checkpoint; null when unknown (external, pickled, large). */
  signature?: Signature | null;
  runnable?: boolean;
  not_runnable_reason?: string | null;
  /** The state of the training job the version came from (training, completed, failed, stopped, stopping,
   * abnormal), where the provider knows it; null or absent otherwise. */
  training_state?: string | null;
}

export interface Tensor {
  name: string;
  dtype: string;
  /** null: a dimension of any size (usually the batch). */
  shape: (number | null)[];
}

export interface Signature {
  inputs: Tensor[];
  outputs: Tensor[];
  /** Column names of tabular input (scikit-learn `feature_names_in_`, XGBoost feature names). */
  features?: string[];
  /** Class labels, in the column order of class probabilities. */
  classes?: (string | number | boolean)[];
}

export interface Grant {
  workspace_id: string;
  workspace_name: string;
  actions: string[];
}

export interface Job {
  id: string;
  kind: string;
  label: string;
  status: "running" | "succeeded" | "failed" | "cancelled";
  progress: number | null;
  detail: string;
  cancellable: boolean;
  /** The id of the action that started the job, when there is one. */
  action?: string | null;
}

export interface Message {
  role: string;
  content: string;
}

export interface Chat {
  model: string | null;
  version: string | null;
  messages: Message[];
  streaming: boolean;
}

export interface Prediction {
  model: string;
  model_name?: string; // the model as people read it (its id only where its name is ambiguous here)
  version: string | null;
  columns: string[];
  rows: unknown[][];
  task: { id: string; status: string } | null;
  /** How long the call took, as the kernel saw it. */
  latency_ms?: number | null;
  /** Set when the prediction went through a deployment: its name and the replica that answered. */
  deployment?: string;
  replica?: string | null;
}

export type DeploymentStatus = "Creating" | "Running" | "Upgrading" | "RollingBack" | "Failed" | "Stopped" | "Deleting";

export interface UpgradeMode {
  mode: "full" | "rolling";
  batch_size?: number;
  max_unavailable?: number;
}

export interface DeploymentInfo {
  name: string;
  model_id: string;
  model_name: string | null;
  version: string;
  /** The versions its replicas serve right now (two while an upgrade runs). */
  versions: string[];
  previous_version: string | null;
  /** Desired replicas, and how many of them serve now. */
  replicas: number;
  ready: number;
  replica_status: { replica: string | null; version: string | null; state: string }[];
  engine: string;
  upgrade: UpgradeMode;
  status: DeploymentStatus;
  status_reason: string;
  endpoint: string | null;
  updated_at: string | null;
}

export interface DeploymentEvent {
  seq: number;
  at: string | null;
  actor: string;
  kind: string;
  message: string;
  reason: string | null;
  changes: Record<string, unknown>;
}

/** The deployment whose detail is shown (null: none), with its newest events first. */
export interface DeploymentEvents {
  name: string | null;
  events: DeploymentEvent[];
}

export interface Variable {
  name: string;
  type: string;
  format: string;
}

export interface Enums {
  format_type: string[];
  framework_type: string[];
  task: string[];
  actions: string[];
  roles: string[];
}

/** What a part of the model list could not show (e.g. a PAI workspace that refuses the caller), and what to do. */
export interface ListingNote {
  code: string;
  message: string;
  hint: string;
}

export interface PanelError {
  code: string;
  message: string;
  hint: string;
  action: string;
}

export type Tab = "workspaces" | "models" | "register" | "inference" | "deployments";

/** Who mounted the view: the notebook Panel has no `host` trait, the JupyterLab sidebar says "sidebar". */
export type Host = "notebook" | "sidebar";

export interface Traits {
  version: string;
  connection: Connection;
  workspace: Workspace | null;
  workspaces: Workspace[];
  models: ModelInfo[];
  models_notes: ListingNote[];
  selected: Selection;
  versions: Version[];
  grants: Grant[];
  jobs: Job[];
  chat: Chat;
  prediction: Prediction | null;
  variables: Variable[];
  enums: Enums;
  error: PanelError | null;
  view: Tab;
  host: Host;
  deployments: DeploymentInfo[];
  deployment_events: DeploymentEvents;
}

/** What the view shows before Python has sent a trait (a host shim may start empty). */
export const DEFAULTS: Traits = {
  version: "",
  connection: { profile: "", kind: "", url: "", account: "", account_kind: "" }, // capabilities: not known yet
  workspace: null,
  workspaces: [],
  models: [],
  models_notes: [],
  selected: { model: null, version: null },
  versions: [],
  grants: [],
  jobs: [],
  chat: { model: null, version: null, messages: [], streaming: false },
  prediction: null,
  variables: [],
  enums: { format_type: [], framework_type: [], task: [], actions: [], roles: [] },
  error: null,
  view: "workspaces",
  host: "notebook",
  deployments: [],
  deployment_events: { name: null, events: [] },
};
