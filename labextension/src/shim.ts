// The sidebar's model: the AFM interface the view expects (get/set/on/off/save_changes/send), kept in
// step with the server extension's DeckState over its websocket (docs/sidebar-protocol.md).

import { Events } from "../../js/src/events";
import type { AnyModel } from "../../js/src/panel/model";

type Listener = (...args: any[]) => void;

/** The part of a WebSocket the shim uses; tests pass a fake. */
export interface Socket {
  readonly readyState: number;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: any) => void) | null;
  send(data: string): void;
  close(): void;
}

export interface ShimOptions {
  /** The state socket's URL, with the token when the server has one. */
  url: string;
  /** `{"type": "insert_code"}` is the host's job: it never goes to the server. */
  insertCode(code: string): void;
  connect?: (url: string) => Socket;
  /** Waits between reconnects, in ms; the last one repeats. */
  backoff?: readonly number[];
}

const OPEN = 1;
const BACKOFF = [500, 1000, 2000, 5000, 10000];

/** The reply to an action the server can no longer answer: `done` only goes to the socket that sent it. */
function disconnected(id: string) {
  return {
    type: "done",
    id,
    ok: false,
    result: null,
    error: {
      code: "Disconnected",
      message: "The sidebar lost its connection to the Jupyter server.",
      hint: "It reconnects by itself; try again in a moment.",
    },
  };
}

export class SidebarModel implements AnyModel {
  private readonly traits = new Map<string, unknown>();
  private readonly events = new Events();
  /** Actions sent on the current socket and not answered yet. */
  private readonly inFlight = new Set<string>();
  /** Traits the view set and saved while the socket was down, sent once the snapshot is in. */
  private readonly unsaved = new Map<string, unknown>();
  private readonly changed = new Set<string>();
  private socket: Socket | null = null;
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private disposed = false;
  private live = false;

  constructor(private readonly options: ShimOptions) {
    this.open();
  }

  /** True once the current socket has delivered the state snapshot. */
  get connected(): boolean {
    return this.live;
  }

  get(name: string): any {
    return this.traits.get(name);
  }

  set(name: string, value: unknown): void {
    this.traits.set(name, value);
    this.changed.add(name);
    this.events.emit(`change:${name}`, value);
  }

  save_changes(): void {
    for (const name of this.changed) this.unsaved.set(name, this.traits.get(name));
    this.changed.clear();
    if (this.live) this.flush();
  }

  send(content: any): void {
    if (content?.type === "insert_code") return this.options.insertCode(String(content.code ?? ""));
    const socket = this.socket;
    if (!socket || socket.readyState !== OPEN || !this.live) {
      // No timeout exists on actions: one sent into a dead socket would wait forever.
      if (content?.type === "action") this.events.emit("msg:custom", disconnected(content.id));
      return;
    }
    if (content?.type === "action") this.inFlight.add(content.id);
    socket.send(JSON.stringify(content));
  }

  on(event: string, callback: Listener): void {
    this.events.on(event, callback);
  }

  off(event?: string | null, callback?: Listener | null): void {
    this.events.off(event, callback);
  }

  dispose(): void {
    this.disposed = true;
    if (this.timer) clearTimeout(this.timer);
    this.socket?.close();
    this.socket = null;
    this.events.off();
  }

  private open(): void {
    const connect = this.options.connect ?? ((url: string) => new WebSocket(url) as Socket);
    const socket = connect(this.options.url);
    this.socket = socket;
    socket.onmessage = (event) => this.receive(event.data);
    socket.onclose = () => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.setLive(false);
      for (const id of this.inFlight) this.events.emit("msg:custom", disconnected(id));
      this.inFlight.clear();
      if (!this.disposed) this.retry();
    };
  }

  private retry(): void {
    const backoff = this.options.backoff ?? BACKOFF;
    const wait = backoff[Math.min(this.attempt, backoff.length - 1)];
    this.attempt += 1;
    this.timer = setTimeout(() => {
      this.timer = null;
      if (!this.disposed) this.open();
    }, wait);
  }

  private receive(data: unknown): void {
    let msg: any;
    try {
      msg = JSON.parse(String(data));
    } catch {
      return; // not ours: the protocol only sends JSON text frames
    }
    if (msg?.type === "state") {
      // A snapshot, on every (re)connect: apply it whole, then what the view saved while it was away.
      for (const [name, value] of Object.entries(msg.state ?? {})) this.update(name, value);
      this.attempt = 0;
      this.setLive(true);
      this.flush();
    } else if (msg?.type === "change") {
      this.update(msg.name, msg.value);
    } else if (msg?.type === "done") {
      this.inFlight.delete(msg.id);
      this.events.emit("msg:custom", msg);
    }
  }

  private update(name: string, value: unknown): void {
    this.traits.set(name, value);
    this.events.emit(`change:${name}`, value);
  }

  private flush(): void {
    for (const [name, value] of this.unsaved) this.socket?.send(JSON.stringify({ type: "set", name, value }));
    this.unsaved.clear();
  }

  private setLive(live: boolean): void {
    if (this.live === live) return;
    this.live = live;
    this.events.emit("status", live);
  }
}
