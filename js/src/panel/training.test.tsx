// @vitest-environment jsdom
// A version a training job produced shows its job's state in its row; a version from no job shows none.
import { afterEach, describe, expect, it } from "vitest";
import { close, open } from "../testing/mounted";
import { sampleModels, sampleVersions } from "../testing/sample";

afterEach(close);

describe("training states", () => {
  it("shows the training job's state on the version it produced, and nothing on the others", () => {
    const models = sampleModels(2);
    const versions = sampleVersions().map((v, i) => (i === 1 ? { ...v, training_state: "stopping" } : v));
    const { el } = open({ view: "models", models, selected: { model: models[0].id, version: null }, versions });
    const rows = [...el.querySelectorAll('[data-testid="md-version-row"]')];
    const states = rows.map((r) => r.querySelector('[data-testid="md-training-state"]')?.textContent ?? null);
    expect(states).toEqual([null, "training job: stopping", null, null, null]);
  });
});
