// @vitest-environment jsdom
// The details a new user's walk-through found: plurals, human labels, keys kept in the panel, Reject's
// confirmation, what `latest` serves, the one-point chart, results only beside their inputs, the sidebar's stack.
import { act } from "preact/test-utils";
import { afterEach, describe, expect, it } from "vitest";
import { close, open } from "../testing/mounted";
import { sampleModels, sampleTraits, sampleVersions } from "../testing/sample";
import { MetricChart } from "./chart";
import { render } from "preact";



afterEach(close);

describe("words", () => {
  it("counts in the right number", () => {
    const { el } = open({ view: "models", models: sampleModels(1) });
    expect(el.querySelector(".md-count")!.textContent).toBe("1 model");
  });

  it("shows enum values as people write them, and sends them as the platform spells them", () => {
    const models = sampleModels(3);
    const { el, model } = open({ view: "models", models, selected: { model: models[1].id, version: null },
      versions: sampleVersions(), enums: { ...sampleTraits().enums, actions: ["inference", "fine_tune", "deploy"] } });  // prettier-ignore
    expect(el.querySelectorAll(".md-model-row .md-muted")[1].textContent).toContain("Inference, Fine-tune, Deploy");
    const checks = [...el.querySelectorAll(".md-checks label")].map((l) => l.textContent);
    expect(checks).toEqual(["Inference", "Fine-tune", "Deploy"]);
    expect(el.querySelector<HTMLElement>('[data-testid="md-version-row"] td[title]')!.title).toBe("scikit-learn");
    const select = el.querySelector<HTMLSelectElement>('[data-testid="md-authorize-workspace"]')!;
    act(() => {
      select.value = "ws-b";
      select.dispatchEvent(new Event("change", { bubbles: true }));
    });
    act(() => el.querySelector<HTMLButtonElement>('[data-testid="md-authorize-submit"]')!.click());
    expect(model.sent.at(-1)).toMatchObject({ name: "authorize", args: { actions: ["inference"] } });
  });
});

describe("keys", () => {
  it("keeps arrows, Enter and Shift+Enter pressed in its fields and dropdowns from the notebook", () => {
    const { el } = open({ view: "models", models: sampleModels(3) });
    const reached: string[] = [];
    document.body.addEventListener("keydown", (e) => reached.push(e.key));
    const select = el.querySelector("select")!;
    for (const key of ["ArrowDown", "ArrowUp", "Enter"]) select.dispatchEvent(new KeyboardEvent("keydown", { key, bubbles: true }));
    el.querySelector('[role="listbox"]')!.dispatchEvent(new KeyboardEvent("keydown", { key: "ArrowDown", bubbles: true }));
    el.querySelector("input")!.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", shiftKey: true, bubbles: true }));
    expect(reached).toEqual([]);
    select.dispatchEvent(new KeyboardEvent("keydown", { key: "Escape", bubbles: true })); // leaving the panel still works
    select.dispatchEvent(new KeyboardEvent("keydown", { key: "s", ctrlKey: true, bubbles: true })); // and saving
    expect(reached).toEqual(["Escape", "s"]);
  });
});

describe("decisions and latest", () => {
  const models = sampleModels(3);
  const detail = () => open({ view: "models", models, selected: { model: models[1].id, version: null }, versions: sampleVersions() });

  it("asks before a Reject, says it is final, and can be called off", () => {
    const { q, model } = detail();
    act(() => q("md-reject")!.click());
    expect(model.sent.filter((m) => m.name === "reject")).toEqual([]);
    expect(q("md-reject-confirm-text")!.textContent).toMatch(/This is final/);
    act(() => q("md-reject-cancel")!.click());
    expect(q("md-reject-confirm")).toBeNull();
    act(() => q("md-reject")!.click());
    act(() => q("md-reject-confirm")!.click());
    expect(model.sent.at(-1)).toMatchObject({ name: "reject", args: { model: models[1].id, version: "1.4.0" } });
  });

  it("headlines the version latest serves (the newest not rejected) with its approval", () => {
    const versions = sampleVersions().map((v) => (v.version_name === "1.4.0" ? { ...v, approval_status: "Rejected" as const } : v));
    const { q } = open({ view: "models", models, selected: { model: models[1].id, version: null }, versions });
    expect(q("md-headline")!.textContent).toBe("latest serves 1.3.0 Approved");
  });

  it("says in the Inference tab which version latest picks", () => {
    const { el } = open({ view: "inference", models, selected: { model: models[1].id, version: null }, versions: sampleVersions() });
    const options = [...el.querySelectorAll("option")].map((o) => o.textContent);
    expect(options).toContain("latest (1.4.0, Pending)");
  });
});

describe("the metric chart", () => {
  it("puts one point on an axis around its value and labels it", () => {
    const el = document.createElement("div");
    render(<MetricChart metric="accuracy" points={[{ label: "1.0.0", value: 0.9 }]} />, el);
    const ticks = [...el.querySelectorAll(".md-chart-tick")].map((t) => t.textContent);
    expect(ticks).toEqual(["0.99", "0.81", "1.0.0"]);
    expect(el.querySelector('[data-testid="md-chart-value"]')!.textContent).toBe("0.9");
    expect(el.querySelector("svg")!.getAttribute("aria-label")).toBe("accuracy across versions: 1.0.0: 0.9");
  });
});

describe("results", () => {
  it("shows a prediction only beside the model and inputs it came from", () => {
    const models = sampleModels(3);
    const prediction = { model: models[1].id, model_name: "model 1", version: "1.0.0", columns: ["y"], rows: [[1]], task: null };
    const { q, model } = open({ view: "inference", models, selected: { model: models[1].id, version: null }, prediction });
    expect(q("md-predict-output")!.textContent).toContain("model 1 1.0.0");
    const input = q<HTMLTextAreaElement>("md-predict-input")!;
    act(() => {
      input.value = "[[1, 2]]";
      input.dispatchEvent(new Event("input", { bubbles: true }));
    });
    act(() => q("md-predict-run")!.click());
    expect(model.sent.at(-1)).toMatchObject({ name: "predict" });
    expect(q("md-predict-output")).not.toBeNull(); // ran with these inputs
    act(() => {
      input.value = "[[3, 4]]";
      input.dispatchEvent(new Event("input", { bubbles: true }));
    });
    expect(q("md-predict-output")).toBeNull(); // the inputs changed: the old result is not theirs
    act(() => model.update({ prediction: { ...prediction, model: models[2].id } }));
    expect(q("md-predict-output")).toBeNull();
  });
});

describe("the sidebar", () => {
  it("stacks the list and one model's details, with a way back", () => {
    const models = sampleModels(3);
    const { q, all, el, model } = open({ host: "sidebar", view: "models", models, selected: { model: models[1].id, version: null } });
    // opened again with a model selected (for the Inference tab), it starts at the list
    expect(el.querySelector('[role="listbox"]')).not.toBeNull();
    expect(el.querySelector(".md-detail")).toBeNull();
    act(() => all("md-model-row")[1].click());
    expect(el.querySelector('[role="listbox"]')).toBeNull();
    expect(el.querySelector(".md-detail")).not.toBeNull();
    const sent = model.sent.length;
    act(() => q("md-back")!.click());
    expect(model.sent.length).toBe(sent); // back keeps the selection
    expect(el.querySelector('[role="listbox"]')).not.toBeNull();
    expect(el.querySelector(".md-detail")).toBeNull();
  });
});

describe("copy as code", () => {
  it("names the model by name in the Inference tab's code, by id only where the name is not unique", async () => {
    const models = sampleModels(3);
    let copied = "";
    Object.defineProperty(navigator, "clipboard", { value: { writeText: async (t: string) => void (copied = t) }, configurable: true });
    const { q, el } = open({ view: "inference", models, selected: { model: models[1].id, version: null } });
    const input = q<HTMLTextAreaElement>("md-predict-input")!;
    act(() => {
      input.value = "[[1, 2]]";
      input.dispatchEvent(new Event("input", { bubbles: true }));
    });
    await act(async () => el.querySelector<HTMLButtonElement>(".md-predict [data-testid=md-copy-code]")!.click());
    expect(copied).toContain('"model 1"');
    expect(copied).not.toContain(models[1].id);
  });
});
