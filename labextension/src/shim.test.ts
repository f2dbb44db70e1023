import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { SidebarModel, type Socket } from "./shim";

class FakeSocket implements Socket {
  readyState = 1;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: any) => void) | null = null;
  readonly sent: any[] = [];

  constructor(readonly url: string) {}

  send(data: string): void {
    this.sent.push(JSON.parse(data));
  }

  close(): void {
    this.readyState = 3;
    this.onclose?.({});
  }

  /** The server's side. */
  push(msg: unknown): void {
    this.onmessage?.({ data: JSON.stringify(msg) });
  }
}

let sockets: FakeSocket[];
let inserted: string[];

function open() {
  const model = new SidebarModel({
    url: "ws://lab/modeldeck/api/state?token=t",
    insertCode: (code) => inserted.push(code),
    connect: (url) => {
      const socket = new FakeSocket(url);
      sockets.push(socket);
      return socket;
    },
    backoff: [100, 400],
  });
  const custom: any[] = [];
  model.on("msg:custom", (msg: unknown) => custom.push(msg));
  return { model, custom, socket: () => sockets.at(-1)! };
}

const snapshot = { connection: { profile: "default" }, view: "workspaces", host: "sidebar" };

beforeEach(() => {
  sockets = [];
  inserted = [];
  vi.useFakeTimers();
});

afterEach(() => vi.useRealTimers());

describe("the sidebar's model shim", () => {
  it("applies the snapshot and each change, with change events", () => {
    const { model, socket } = open();
    expect(socket().url).toBe("ws://lab/modeldeck/api/state?token=t");
    const seen: unknown[] = [];
    model.on("change:view", (v: unknown) => seen.push(v));
    socket().push({ type: "state", state: snapshot });
    expect(model.connected).toBe(true);
    expect(model.get("host")).toBe("sidebar");
    socket().push({ type: "change", name: "view", value: "models" });
    expect(model.get("view")).toBe("models");
    expect(seen).toEqual(["workspaces", "models"]);
  });

  it("sends actions and hands their done replies to msg:custom", () => {
    const { model, custom, socket } = open();
    socket().push({ type: "state", state: snapshot });
    model.send({ type: "action", id: "a1", name: "refresh", args: {} });
    expect(socket().sent).toEqual([{ type: "action", id: "a1", name: "refresh", args: {} }]);
    socket().push({ type: "done", id: "a1", ok: true, error: null, result: null });
    expect(custom).toEqual([{ type: "done", id: "a1", ok: true, error: null, result: null }]);
  });

  it("saves the view as a set message", () => {
    const { model, socket } = open();
    socket().push({ type: "state", state: snapshot });
    model.set("view", "inference");
    expect(socket().sent).toEqual([]);
    model.save_changes();
    expect(socket().sent).toEqual([{ type: "set", name: "view", value: "inference" }]);
  });

  it("inserts code itself, never sending it to the server", () => {
    const { model, socket } = open();
    socket().push({ type: "state", state: snapshot });
    model.send({ type: "insert_code", code: "import modeldeck as md" });
    expect(inserted).toEqual(["import modeldeck as md"]);
    expect(socket().sent).toEqual([]);
  });

  it("fails actions at once while disconnected, and those the dropped socket can no longer answer", () => {
    const { model, custom, socket } = open();
    model.send({ type: "action", id: "early", name: "refresh", args: {} });
    expect(custom[0]).toMatchObject({ type: "done", id: "early", ok: false, error: { code: "Disconnected" } });
    socket().push({ type: "state", state: snapshot });
    model.send({ type: "action", id: "a2", name: "chat", args: {} });
    socket().close();
    expect(model.connected).toBe(false);
    expect(custom[1]).toMatchObject({ type: "done", id: "a2", ok: false, error: { code: "Disconnected" } });
  });

  it("reconnects with backoff, re-applies the snapshot, then sends what the view saved meanwhile", () => {
    const { model, socket } = open();
    const status: boolean[] = [];
    model.on("status", (live: boolean) => status.push(live));
    socket().push({ type: "state", state: snapshot });
    socket().close();
    vi.advanceTimersByTime(99);
    expect(sockets.length).toBe(1);
    vi.advanceTimersByTime(1);
    expect(sockets.length).toBe(2);
    socket().close(); // the server is still down: the next wait is longer
    vi.advanceTimersByTime(399);
    expect(sockets.length).toBe(2);
    vi.advanceTimersByTime(1);
    expect(sockets.length).toBe(3);
    model.set("view", "register");
    model.save_changes();
    socket().push({ type: "state", state: { ...snapshot, connection: { profile: "team" } } });
    expect(model.get("connection")).toEqual({ profile: "team" });
    expect(socket().sent).toEqual([{ type: "set", name: "view", value: "register" }]);
    expect(status).toEqual([true, false, true]);
  });

  it("stops reconnecting once disposed", () => {
    const { model, socket } = open();
    model.dispose();
    expect(socket().readyState).toBe(3);
    vi.advanceTimersByTime(10_000);
    expect(sockets.length).toBe(1);
  });
});
