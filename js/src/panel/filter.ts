// Search and filters of the Models tab. Pure, so 10,000 models filter on every keystroke.

import type { ModelInfo } from "./types";

export interface ModelFilter {
  text: string;
  task: string; // "" = any
  source: "" | "owned" | "granted";
  action: string; // "" = any
}

export const NO_FILTER: ModelFilter = { text: "", task: "", source: "", action: "" };

function haystack(m: ModelInfo): string {
  const labels = Object.entries(m.labels ?? {}).map(([k, v]) => `${k}=${v}`);
  return [m.name, m.task, m.domain, m.owner_workspace_name, m.description, ...labels].join("\n").toLowerCase();
}

/** Every whitespace-separated term must occur in the model's name, task, owner, description or labels. */
export function filterModels(models: readonly ModelInfo[], filter: ModelFilter): ModelInfo[] {
  const terms = filter.text.toLowerCase().split(/\s+/).filter(Boolean);
  return models.filter(
    (m) =>
      (!filter.task || m.task === filter.task) &&
      (!filter.source || m.source === filter.source) &&
      (!filter.action || (m.actions ?? []).includes(filter.action)) &&
      (terms.length === 0 || terms.every((t) => haystack(m).includes(t))),
  );
}

/** The distinct values of a field, sorted, for a filter dropdown. */
export function distinct(models: readonly ModelInfo[], pick: (m: ModelInfo) => readonly string[]): string[] {
  const seen = new Set<string>();
  for (const m of models) for (const v of pick(m)) if (v) seen.add(v);
  return [...seen].sort();
}
