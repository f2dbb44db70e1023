import { describe, expect, it } from "vitest";
import { choices, useProfile } from "./profiles";
import { SidebarModel, type Socket } from "./shim";

function connected() {
  const sent: any[] = [];
  const socket: Socket = {
    readyState: 1,
    onmessage: null,
    onclose: null,
    send: (data) => sent.push(JSON.parse(data)),
    close: () => undefined,
  };
  const model = new SidebarModel({ url: "ws://lab/modeldeck/api/state", insertCode: () => undefined, connect: () => socket });
  const push = (msg: unknown) => socket.onmessage?.({ data: JSON.stringify(msg) });
  push({ type: "state", state: { connection: { profile: "hw" }, profiles: [] } });
  return { model, sent, push };
}

describe("the sidebar's profile picker", () => {
  it("offers every configured profile, and the connected one even when the file lacks it", () => {
    const hw = [{ name: "hw", kind: "huawei" }, { name: "hw-bob", kind: "huawei" }];
    expect(choices(hw, "hw")).toEqual(hw);
    expect(choices(hw, "local").map((p) => p.name)).toEqual(["local", "hw", "hw-bob"]);
    expect(choices(undefined, "")).toEqual([]);
  });

  it("sends use_profile and resolves with its own done reply only", async () => {
    const { model, sent, push } = connected();
    const switched = useProfile(model, "hw-bob");
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ type: "action", name: "use_profile", args: { profile: "hw-bob" } });
    let settled: boolean | null = null;
    void switched.then((ok) => (settled = ok));
    push({ type: "done", id: "another", ok: true, error: null, result: null });
    await Promise.resolve();
    expect(settled).toBeNull();
    push({ type: "done", id: sent[0].id, ok: false, error: { code: "ModelArts.0105", message: "", hint: "" }, result: null });
    expect(await switched).toBe(false);
    model.dispose();
  });
});
