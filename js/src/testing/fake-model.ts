// An in-memory AFM model for tests and the dev harness: traits, change events, and recorded messages.

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
  private readonly listeners = new Map<string, Set<Listener>>();

  constructor(traits: Record<string, unknown> = {}) {
    for (const [k, v] of Object.entries(traits)) this.traits.set(k, v);
  }

  get(name: string): any {
    return this.traits.get(name);
  }

  set(name: string, value: unknown): void {
    this.traits.set(name, value);
    this.emit(`change:${name}`);
  }

  on(event: string, callback: Listener): void {
    if (!this.listeners.has(event)) this.listeners.set(event, new Set());
    this.listeners.get(event)!.add(callback);
  }

  off(event?: string | null, callback?: Listener | null): void {
    if (!event) return this.listeners.clear();
    if (!callback) return void this.listeners.delete(event);
    this.listeners.get(event)?.delete(callback);
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

  /** Python's side: answer an action. */
  reply(id: string, outcome: { ok: boolean; result?: unknown; error?: unknown }): void {
    this.emit("msg:custom", { type: "done", id, error: null, result: null, ...outcome });
  }

  listenerCount(event: string): number {
    return this.listeners.get(event)?.size ?? 0;
  }

  private emit(event: string, ...args: unknown[]): void {
    for (const cb of [...(this.listeners.get(event) ?? [])]) cb(...args);
  }
}
