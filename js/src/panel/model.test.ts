import { describe, expect, it, vi } from "vitest";
import { FakeModel } from "../testing/fake-model";
import { ActionError, Actions, uuid } from "./model";

describe("Actions", () => {
  it("sends an action with a fresh id and resolves on its own done reply", async () => {
    const model = new FakeModel();
    const actions = new Actions(model);
    const first = actions.act("use", { workspace: "ws-b" });
    const second = actions.act("refresh");
    const [a, b] = model.sent;
    expect(a).toMatchObject({ type: "action", name: "use", args: { workspace: "ws-b" } });
    expect(b).toMatchObject({ type: "action", name: "refresh", args: {} });
    expect(a.id).not.toBe(b.id);
    model.reply(b.id, { ok: true, result: "second" }); // out of order
    model.reply(a.id, { ok: true, result: { id: "ws-b" } });
    await expect(first).resolves.toEqual({ id: "ws-b" });
    await expect(second).resolves.toBe("second");
  });

  it("rejects with the reply's code, message and hint", async () => {
    const model = new FakeModel();
    const pending = new Actions(model).act("use", { workspace: "x" });
    model.reply(model.sent[0].id, {
      ok: false,
      error: { code: "Workspace.AccessDenied", message: "No access.", hint: "Pass team-a." },
    });
    const error = await pending.catch((e) => e);
    expect(error).toBeInstanceOf(ActionError);
    expect(error).toMatchObject({ code: "Workspace.AccessDenied", message: "No access.", hint: "Pass team-a." });
  });

  it("ignores replies to other views' actions and other messages", async () => {
    const model = new FakeModel();
    const actions = new Actions(model);
    const settled = vi.fn();
    actions.act("refresh").then(settled, settled);
    model.reply("someone-else", { ok: true });
    model.reply(model.sent[0].id.toUpperCase(), { ok: true });
    await Promise.resolve();
    expect(settled).not.toHaveBeenCalled();
  });

  it("waits without a timeout, however long the work takes", async () => {
    vi.useFakeTimers();
    const model = new FakeModel();
    const settled = vi.fn();
    new Actions(model).act("register", {}).then(settled, settled);
    await vi.advanceTimersByTimeAsync(60 * 60 * 1000);
    expect(settled).not.toHaveBeenCalled();
    model.reply(model.sent[0].id, { ok: true, result: 1 });
    await vi.runAllTimersAsync();
    expect(settled).toHaveBeenCalledWith(1);
    vi.useRealTimers();
  });

  it("rejects on abort and drops the late reply", async () => {
    const model = new FakeModel();
    const actions = new Actions(model);
    const controller = new AbortController();
    const pending = actions.act("chat", {}, { signal: controller.signal });
    controller.abort(new Error("stopped caring"));
    await expect(pending).rejects.toThrow("stopped caring");
    expect(() => model.reply(model.sent[0].id, { ok: true })).not.toThrow();
    await expect(actions.act("x", {}, { signal: controller.signal })).rejects.toThrow("stopped caring");
    expect(model.sent).toHaveLength(1); // an already aborted call sends nothing
  });

  it("uses a caller's id when given one", () => {
    const model = new FakeModel();
    void new Actions(model).act("register", {}, { id: "fixed-id" });
    expect(model.sent[0].id).toBe("fixed-id");
  });

  it("dispose rejects what is pending and stops listening", async () => {
    const model = new FakeModel();
    const actions = new Actions(model);
    const pending = actions.act("refresh");
    expect(model.listenerCount("msg:custom")).toBe(1);
    actions.dispose();
    await expect(pending).rejects.toThrow();
    expect(model.listenerCount("msg:custom")).toBe(0);
  });
});

describe("uuid", () => {
  const shape = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

  it("is a v4 uuid, also where randomUUID is missing (insecure contexts)", () => {
    expect(uuid()).toMatch(shape);
    const original = crypto.randomUUID;
    Object.defineProperty(crypto, "randomUUID", { value: undefined, configurable: true });
    try {
      const ids = new Set(Array.from({ length: 50 }, uuid));
      expect(ids.size).toBe(50);
      for (const id of ids) expect(id).toMatch(shape);
    } finally {
      Object.defineProperty(crypto, "randomUUID", { value: original, configurable: true });
    }
  });
});
