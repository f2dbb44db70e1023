// The Register form's state, checked and turned into the `register` action's arguments.

import type { RegisterArgs, RegisterFields, Source } from "./code";
import { checkLabels, checkMetrics, checkModelName, checkUri, checkVersionName, type Pair } from "./validate";

export type SourceKind = "path" | "uri" | "variable";

export interface RegisterForm {
  sourceKind: SourceKind;
  path: string;
  uri: string;
  variable: string;
  model: string;
  version_name: string;
  format_type: string;
  framework_type: string;
  labels: Pair[];
  metrics: Pair[];
  description: string;
}

export const EMPTY_FORM: RegisterForm = {
  sourceKind: "path",
  path: "",
  uri: "",
  variable: "",
  model: "",
  version_name: "",
  format_type: "",
  framework_type: "",
  labels: [{ key: "", value: "" }],
  metrics: [{ key: "", value: "" }],
  description: "",
};

/** Field messages; a field left empty is "missing" rather than wrong, so it shows no message. */
export interface RegisterCheck {
  errors: Partial<Record<"source" | "model" | "version_name" | "labels" | "metrics", string>>;
  missing: string[];
  args: RegisterArgs | null;
}

function source(form: RegisterForm): Source | null {
  if (form.sourceKind === "path") return form.path.trim() ? { path: form.path.trim() } : null;
  if (form.sourceKind === "uri") return form.uri.trim() ? { uri: form.uri.trim() } : null;
  return form.variable ? { variable: form.variable } : null;
}

export function checkRegister(form: RegisterForm): RegisterCheck {
  const errors: RegisterCheck["errors"] = {};
  const missing: string[] = [];
  const src = source(form);
  if (!src) missing.push(form.sourceKind === "variable" ? "a variable" : `a ${form.sourceKind}`);
  else if ("uri" in src) errors.source = checkUri(src.uri) ?? undefined;
  if (form.model === "") missing.push("a model name");
  else errors.model = checkModelName(form.model) ?? undefined;
  errors.version_name = checkVersionName(form.version_name.trim()) ?? undefined;
  const labels = checkLabels(form.labels);
  if (!labels.ok) errors.labels = labels.message;
  const metrics = checkMetrics(form.metrics);
  if (!metrics.ok) errors.metrics = metrics.message;
  for (const k of Object.keys(errors) as (keyof typeof errors)[]) if (!errors[k]) delete errors[k];
  if (!src || missing.length || Object.keys(errors).length || !labels.ok || !metrics.ok) {
    return { errors, missing, args: null };
  }
  const fields: RegisterFields = {};
  if (form.version_name.trim()) fields.version_name = form.version_name.trim();
  if (form.format_type) fields.format_type = form.format_type;
  if (form.framework_type) fields.framework_type = form.framework_type;
  if (Object.keys(labels.value).length) fields.labels = labels.value;
  if (Object.keys(metrics.value).length) fields.metrics = metrics.value;
  if (form.description.trim()) fields.description = form.description.trim();
  return { errors, missing, args: { model: form.model, source: src, fields } };
}
