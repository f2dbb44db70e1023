import { describe, expect, it } from "vitest";
import { sampleModels } from "../testing/sample";
import { distinct, filterModels, NO_FILTER } from "./filter";

const models = sampleModels(30);

describe("filterModels", () => {
  it("keeps everything without a filter", () => {
    expect(filterModels(models, NO_FILTER)).toHaveLength(30);
  });

  it("matches every term, case-insensitively, across name, owner and labels", () => {
    const names = filterModels(models, { ...NO_FILTER, text: "MODEL 1" }).map((m) => m.name);
    expect(names).toContain("model 1");
    expect(names).toContain("model 12");
    expect(filterModels(models, { ...NO_FILTER, text: "team-b model" }).every((m) => m.source === "granted")).toBe(true);
    expect(filterModels(models, { ...NO_FILTER, text: "team=a" }).every((m) => m.labels.team === "a")).toBe(true);
    expect(filterModels(models, { ...NO_FILTER, text: "nothing-like-this" })).toEqual([]);
  });

  it("filters by task, source and action together", () => {
    const shown = filterModels(models, { text: "", task: "chat", source: "owned", action: "deploy" });
    expect(shown.length).toBeGreaterThan(0);
    for (const m of shown) {
      expect(m.task).toBe("chat");
      expect(m.source).toBe("owned");
      expect(m.actions).toContain("deploy");
    }
    expect(filterModels(models, { ...NO_FILTER, source: "granted", action: "deploy" })).toEqual([]);
  });

  it("filters 10,000 models by a name fragment", () => {
    const many = sampleModels(10_000);
    const shown = filterModels(many, { ...NO_FILTER, text: "model 99" });
    expect(shown.length).toBe(many.filter((m) => m.name.includes("99")).length);
  });
});

describe("distinct", () => {
  it("lists sorted unique non-empty values", () => {
    expect(distinct(models, (m) => m.actions)).toEqual(["deploy", "fine_tune", "inference"]);
  });
});
