// @vitest-environment jsdom
import { act } from "preact/test-utils";
import { afterEach, describe, expect, it } from "vitest";
import { close, input, open as mountPanel } from "../testing/mounted";
import { OPENAI_CONNECTION, sampleModels, sampleVersions } from "../testing/sample";
import { deployCode, deploymentPredictCode } from "./deploy-code";
import { human, rollingChoice } from "./deployments";
import type { DeploymentInfo } from "./types";


function dep(over: Partial<DeploymentInfo> = {}): DeploymentInfo {
  return {
    name: "iris-prod", model_id: "model-00001", model_name: "model 1", version: "1.0.0", versions: ["1.0.0"],
    previous_version: null, replicas: 2, ready: 2, replica_status: [], engine: "local",
    upgrade: { mode: "rolling", batch_size: 1, max_unavailable: 0 }, status: "Running", status_reason: "",
    endpoint: "http://127.0.0.1:40001", updated_at: "2026-12-01T13:00:00+00:00", ...over,
  };
}



const open = (traits: Record<string, unknown> = {}) => mountPanel({ view: "deployments", ...traits });

function submit(form: HTMLElement) {
  act(() => void form.dispatchEvent(new Event("submit", { bubbles: true, cancelable: true })));
}

afterEach(close);

describe("the Deployments view", () => {
  it("is a tab only where the platform has deployments", () => {
    expect(open().q("md-tab-deployments")).not.toBeNull();
    close();
    const openai = open({ connection: OPENAI_CONNECTION });
    expect(openai.q("md-tab-deployments")).toBeNull();
    expect(openai.q("md-deployment-row")).toBeNull();
  });

  it("asks for the list when shown, and its status badges follow the trait live", () => {
    const { model, all } = open();
    expect(model.sent.map((m) => m.name)).toContain("load_deployments");
    act(() => model.update({ deployments: [dep({ status: "Creating", ready: 0 })] }));
    const row = () => all("md-deployment-row")[0];
    expect(row().dataset.name).toBe("iris-prod");
    expect(row().textContent).toContain("model 1"); // the model by name, never its id
    expect(row().textContent).not.toContain("model-00001");
    expect(row().querySelector<HTMLElement>('[data-testid="md-deployment-status"]')!.dataset.status).toBe("Creating");
    expect(row().querySelector('[data-testid="md-deployment-replicas"]')!.textContent).toBe("0/2 ready");
    act(() => model.update({ deployments: [dep({ ready: 1 })] }));
    expect(row().querySelector('[data-testid="md-deployment-replicas"]')!.textContent).toBe("1/2 ready");
    expect(row().textContent).toContain("Running");
    act(() => model.update({ deployments: [dep({ status: "RollingBack" })] }));
    expect(row().textContent).toContain("Rolling back");
  });

  it("opens a deployment's detail with its events timeline: who, when, what, why", () => {
    const { model, all, q, last } = open({ deployments: [dep()] });
    act(() => all("md-deployment-row")[0].click());
    expect(last()).toMatchObject({ name: "deployment_events", args: { name: "iris-prod" } });
    act(() => model.update({
      deployment_events: {
        name: "iris-prod",
        events: [
          { seq: 3, at: "2026-12-01T13:05:00+00:00", actor: "platform", kind: "rolled_back", message: "Version 3.0.0 failed; 1.0.0 is serving again.", reason: "not a valid ONNX model", changes: {} },
          { seq: 1, at: "2026-12-01T13:00:00+00:00", actor: "main", kind: "created", message: "Deploying model 1 1.0.0.", reason: null, changes: {} },
        ],
      },
    }));
    const events = all("md-deployment-event");
    expect(events.map((e) => e.dataset.kind)).toEqual(["rolled_back", "created"]);
    expect(events[0].textContent).toContain("2026-12-01 13:05");
    expect(events[0].textContent).toContain("by platform");
    expect(events[0].textContent).toContain("Why: not a valid ONNX model");
    expect(events[1].textContent).toContain("Created");
    expect(q("md-deployment-detail")!.textContent).toContain("2/2 ready");
    act(() => q("md-deployment-back")!.click());
    expect(last()).toMatchObject({ name: "deployment_events", args: { name: null } });
  });

  it("deploys with Enter, with rolling's batch size and max unavailable", () => {
    const models = sampleModels(3); // model 1 and 2 are owned (may deploy); model 0 is only granted
    const { q, last } = open({ models, selected: { model: models[1].id, version: "1.3.0" }, versions: sampleVersions() });
    act(() => q("md-deploy-new")!.click());
    const choices = [...q<HTMLSelectElement>("md-deploy-model")!.options].map((o) => o.textContent);
    expect(choices).toEqual(["Choose…", "model 1", "model 2"]);
    expect(q<HTMLInputElement>("md-deploy-name")!.value).toBe("model 1");
    input(q<HTMLInputElement>("md-deploy-name")!, "iris-prod");
    input(q<HTMLInputElement>("md-deploy-replicas")!, "2");
    input(q<HTMLInputElement>("md-upgrade-unavailable")!, "1");
    const name = q<HTMLInputElement>("md-deploy-name")!;
    act(() => void name.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true, cancelable: true })));
    expect(last()).toMatchObject({
      name: "deploy",
      args: { model: models[1].id, version: "1.3.0", name: "iris-prod", replicas: 2, engine: "local",
              upgrade: { mode: "rolling", batch_size: 1, max_unavailable: 1 } },
    });
  });

  it("deploys the version just chosen while the kernel has not answered the choice yet", async () => {
    const models = sampleModels(3);
    const { q, last, model } = open({ models, selected: { model: models[1].id, version: null }, versions: sampleVersions() });
    act(() => q("md-deploy-new")!.click());
    const version = q<HTMLSelectElement>("md-deploy-version")!;
    act(() => {
      version.value = "1.2.0";
      version.dispatchEvent(new Event("change", { bubbles: true }));
    });
    const choice = last();
    expect(choice).toMatchObject({ name: "select", args: { model: models[1].id, version: "1.2.0" } });
    input(q<HTMLInputElement>("md-deploy-name")!, "iris-prod"); // a render before the answer keeps the choice
    expect(q<HTMLSelectElement>("md-deploy-version")!.value).toBe("1.2.0");
    submit(q("md-deploy-form")!);
    expect(last()).toMatchObject({ name: "deploy", args: { model: models[1].id, version: "1.2.0", name: "iris-prod" } });

    await act(async () => model.reply(choice.id, { ok: false, error: { code: "X", message: "refused", hint: "" } }));
    expect(q<HTMLSelectElement>("md-deploy-version")!.value).toBe(""); // refused: the kernel's selection again
  });

  it("offers PAI's rows, not Model Studio's own deploy authorization, and names a PAI model by its ModelId", () => {
    const studio = { ...sampleModels(1)[0], id: "iris", name: "iris", source: "authorized" as const,
                     actions: ["inference", "fine_tune", "deploy"] };  // prettier-ignore
    const pai = { ...sampleModels(2)[1], id: "mdl-7", name: "iris", source: "pai" as const, actions: ["register", "deploy"] };
    const viewer = { ...pai, id: "mdl-8", name: "ranker", actions: [] };
    const connection = { profile: "ali", kind: "alibaba", url: "", account: "", account_kind: "", engines: ["local"] };
    const { q, last } = open({ connection, models: [studio, pai, viewer], selected: { model: "mdl-7", version: "0.1.0" } });
    act(() => q("md-deploy-new")!.click());
    expect(q("md-deploy-engine")).toBeNull(); // EAS services run on EAS: no engine to choose
    const options = [...q<HTMLSelectElement>("md-deploy-model")!.options].map((o) => [o.value, o.textContent]);
    expect(options).toEqual([["", "Choose…"], ["mdl-7", "iris"]]);
    input(q<HTMLInputElement>("md-deploy-name")!, "iris-svc");
    submit(q("md-deploy-form")!);
    expect(last()).toMatchObject({ name: "deploy", args: { model: "mdl-7", version: "0.1.0", name: "iris-svc", engine: "local" } });
  });

  it("shows a running service's endpoint in its detail", () => {
    const { q } = open({ deployments: [dep({ engine: "eas" })], deployment_events: { name: "iris-prod", events: [] } });
    expect(q("md-deployment-endpoint")!.textContent).toBe("http://127.0.0.1:40001");
  });

  it("asks before deleting, and says it is final", () => {
    const { all, q, last, model } = open({ deployments: [dep({ previous_version: "0.9.0" })], deployment_events: { name: "iris-prod", events: [] } });
    act(() => q("md-deployment-delete")!.click());
    expect(model.sent.some((m) => m.name === "delete_deployment")).toBe(false);
    expect(q("md-deployment-detail")!.textContent).toContain("This is final");
    act(() => q("md-deployment-delete-confirm")!.click());
    expect(last()).toMatchObject({ name: "delete_deployment", args: { name: "iris-prod" } });
    act(() => q("md-deployment-rollback")!.click());
    expect(last()).toMatchObject({ name: "rollback", args: { name: "iris-prod" } });
    act(() => q("md-deployment-stop")!.click());
    expect(last()).toMatchObject({ name: "stop_deployment", args: { name: "iris-prod" } });
    act(() => model.update({ deployments: [dep({ status: "Stopped", ready: 0, endpoint: null })] }));
    act(() => q("md-deployment-start")!.click());
    expect(last()).toMatchObject({ name: "start_deployment", args: { name: "iris-prod" } });
    expect(all("md-deployment-rollback")[0].hasAttribute("disabled")).toBe(true); // nothing earlier to go back to
  });

  it("upgrades to a version of the deployment's model, fully", () => {
    const { q, last } = open({
      deployments: [dep()], deployment_events: { name: "iris-prod", events: [] },
      selected: { model: "model-00001", version: null }, versions: sampleVersions(),
    });
    const version = q<HTMLSelectElement>("md-upgrade-version")!;
    act(() => {
      version.value = "1.4.0";
      version.dispatchEvent(new Event("change", { bubbles: true }));
    });
    const form = q("md-upgrade-form")!;
    act(() => form.querySelector<HTMLInputElement>('[data-testid="md-upgrade-mode-full"]')!.click());
    submit(form);
    expect(last()).toMatchObject({ name: "upgrade", args: { name: "iris-prod", version: "1.4.0", mode: "full" } });
  });

  it("predicts through the deployment and shows only its own answer", () => {
    const { q, last, model } = open({ deployments: [dep()], deployment_events: { name: "iris-prod", events: [] } });
    input(q<HTMLInputElement>("md-deployment-predict-input")!, "[[0.5, -1, 2, 0.25]]");
    const box = q<HTMLInputElement>("md-deployment-predict-input")!;
    act(() => void box.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true, cancelable: true })));
    expect(last()).toMatchObject({ name: "predict", args: { model: null, inputs: [[0.5, -1, 2, 0.25]], deployment: "iris-prod" } });
    act(() => model.update({ prediction: { model: "model 1", version: "1.0.0", columns: ["logits"], rows: [[0.25]], task: null } }));
    expect(q("md-deployment-output")).toBeNull(); // a prediction made elsewhere (the Inference tab)
    act(() => model.update({
      prediction: { model: "model 1", version: "1.0.0", columns: ["logits"], rows: [[0.25]], task: null, deployment: "iris-prod", replica: "r1.3" },
    }));
    expect(q("md-deployment-output")!.textContent).toContain("answered by replica r1.3");
  });

  it("the model detail's Deploy… opens the Deploy form for the selected version", () => {
    const models = sampleModels(3);
    const { q, model } = open({ view: "models", models, selected: { model: models[1].id, version: "1.2.0" }, versions: sampleVersions() });
    act(() => q("md-deploy-open")!.click());
    expect(model.get("view")).toBe("deployments");
    act(() => model.update({ view: "deployments" })); // as the kernel echoes the tab back
    expect(q("md-deploy-form")).not.toBeNull();
    expect(q<HTMLSelectElement>("md-deploy-version")!.value).toBe("1.2.0");
  });
});

describe("deployments as code", () => {
  const ctx = { connection: { profile: "team", capabilities: undefined }, workspace: "team-a" };

  it("deploys by model name, with the form's arguments", () => {
    const code = deployCode(ctx, { model: "iris", version: "1.0.0", name: "iris-prod", replicas: 2, engine: "local", upgrade: "full" });
    expect(code).toContain('deck = md.connect("team")\ndeck.use("team-a")');
    expect(code).toContain('dep = deck.deploy("iris", "1.0.0", name="iris-prod", replicas=2, engine="local", upgrade="full")');
  });

  it("predicts through the deployment", () => {
    const code = deploymentPredictCode(ctx, { deployment: "iris-prod", inputs: [[1, 2]] });
    expect(code).toContain("inputs = [[1, 2]]\nprediction = deck.predict(None, inputs, deployment=\"iris-prod\")");
  });

  it("labels enum values for people", () => {
    expect(human("RollingBack")).toBe("Rolling back");
    expect(human("replica_exited")).toBe("Replica exited");
  });
});

describe("rollingChoice", () => {
  it("names the rolling upgrade's choice: add instances, remove them first, or both", () => {
    expect(rollingChoice({ batch_size: 1, max_unavailable: 0 })).toMatch(/^adds instances/);
    expect(rollingChoice({ batch_size: 1, max_unavailable: 1 })).toMatch(/^removes instances/);
    expect(rollingChoice({ batch_size: 2, max_unavailable: 1 })).toBe("adds and removes instances");
    expect(rollingChoice({})).toMatch(/^adds instances/);
  });
});
