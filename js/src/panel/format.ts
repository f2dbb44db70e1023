import type { ModelInfo } from "./types";

// Numbers for people: metrics and outputs carry float noise (0.9099999999999999) that hides the value.

/** `digits` significant digits, without ever rounding away digits before the point. */
export function formatNumber(n: number, digits = 4): string {
  if (!Number.isFinite(n) || Number.isInteger(n)) return String(n);
  const magnitude = Math.abs(n);
  if (magnitude < 1e-4) return n.toExponential(digits - 1);
  const decimals = Math.max(0, digits - 1 - Math.floor(Math.log10(magnitude)));
  return String(Number(n.toFixed(Math.min(decimals, 20))));
}

/** An ISO timestamp as "YYYY-MM-DD HH:MM" (UTC as sent), or "" when missing. */
export function formatTime(iso: string | null | undefined): string {
  return iso ? iso.slice(0, 16).replace("T", " ") : "";
}

/** "1 model", "3 models", "1,200 models": a count with its noun in the right number. */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString("en-US")} ${n === 1 ? one : many}`;
}

// Enum values as the platform spells them (PAI's wire words) mapped to how people write them.
const LABELS: Record<string, string> = {
  fine_tune: "Fine-tune", inference: "Inference", deploy: "Deploy", register: "Register", approve: "Approve",
  Pytorch: "PyTorch", ScikitLearn: "scikit-learn", TensorFlow: "TensorFlow", XGBoost: "XGBoost",
  Transformers: "Transformers", SkopsModel: "skops", PickleModel: "Pickle", SafeTensors: "safetensors",
  OfflineModel: "Offline model", SavedModel: "SavedModel", TorchScript: "TorchScript",
  owned: "Owned", granted: "Granted", admin: "Admin", developer: "Developer", viewer: "Viewer",
  PRIVATE: "Private", PUBLIC: "Public",
};

/** An enum value for display (the value itself stays what is sent): "fine_tune" → "Fine-tune". */
export function humanLabel(value: string): string {
  return LABELS[value] ?? value.replace(/_/g, " ");
}

/** Where a listed model comes from, as its row says it: owned here, granted by its owner workspace,
 * (Model Studio, which names no owner) authorized for this workspace, or (Alibaba) PAI's registry. */
export function origin(model: Pick<ModelInfo, "source" | "owner_workspace_name">): string {
  if (model.source === "owned") return "owned";
  if (model.source === "pai") return "PAI registry";
  return model.owner_workspace_name ? `from ${model.owner_workspace_name}` : model.source;
}
