// An in-memory AFM model for tests and the dev harness: traits, change events, and recorded messages.

import { Events } from "../events";
import type { AnyModel } from "../panel/model";

type Listener = (...args: any[]) => void;

export interface ActionMessage {
  type: "action";
  id: string;
  name: string;
  args: any;
}

export class FakeModel implements AnyModel {
  readonly sent: ActionMessage[] = [];
  saves = 0;
  /** Called for every action the view sends, e.g. to play the Python side. */
  onAction: ((msg: ActionMessage) => void) | null = null;
  private readonly traits = new Map<string, unknown>();
  private readonly events = new Events();

  constructor(traits: Record<string, unknown> = {}) {
    for (const [k, v] of Object.entries(traits)) this.traits.set(k, v);
  }

  get(name: string): any {
    return this.traits.get(name);
  }

  set(name: string, value: unknown): void {
    this.traits.set(name, value);
    this.events.emit(`change:${name}`);
  }

  on(event: string, callback: Listener): void {
    this.events.on(event, callback);
  }

  off(event?: string | null, callback?: Listener | null): void {
    this.events.off(event, callback);
  }

  save_changes(): void {
    this.saves += 1;
  }

  send(content: unknown): void {
    const msg = content as ActionMessage;
    this.sent.push(msg);
    this.onAction?.(msg);
  }

  /** Python's side: set traits as the kernel would. */
  update(traits: Record<string, unknown>): void {
    for (const [k, v] of Object.entries(traits)) this.set(k, v);
  }

  /** The kernel went away: ipywidgets closes the model's comm. */
  closeComm(): void {
    this.events.emit("comm:close");
  }

  /** Python's side: answer an action. */
  reply(id: string, outcome: { ok: boolean; result?: unknown; error?: unknown }): void {
    this.events.emit("msg:custom", { type: "done", id, error: null, result: null, ...outcome });
  }

  listenerCount(event: string): number {
    return this.events.count(event);
  }
}
