// The view's only door to its host: an AFM-shaped model (anywidget's, or a sidebar's shim).

import { createContext } from "preact";
import { useCallback, useContext, useEffect, useRef, useState } from "preact/hooks";
import type { CodeContext } from "./code";
import { can } from "./capabilities";
import { Events } from "../events";
import { DEFAULTS, type Capability, type Selection, type Traits, type Version } from "./types";

type Listener = (...args: any[]) => void;

/** The subset of anywidget's AnyModel the view uses. */
export interface AnyModel {
  get(name: string): any;
  set(name: string, value: unknown): void;
  on(event: string, callback: Listener): void;
  off(event?: string | null, callback?: Listener | null): void;
  save_changes(): void;
  send(content: unknown, callbacks?: unknown, buffers?: ArrayBuffer[]): void;
}

export interface ActionErrorInfo {
  code: string;
  message: string;
  hint: string;
}

export class ActionError extends Error {
  readonly code: string;
  readonly hint: string;

  constructor(info: ActionErrorInfo) {
    super(info.message);
    this.name = "ActionError";
    this.code = info.code;
    this.hint = info.hint;
  }
}

interface Pending {
  resolve(result: unknown): void;
  reject(error: unknown): void;
}

/** A random v4 uuid; `crypto.randomUUID` is missing outside secure contexts (a hub over plain http). */
export function uuid(): string {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * Sends actions and pairs each with its `done` reply. No timeout: uploads and chats take as long as they
 * take; a caller that stops caring passes an AbortSignal.
 */
export class Actions {
  private readonly pending = new Map<string, Pending>();

  constructor(private readonly model: AnyModel) {
    model.on("msg:custom", this.receive);
  }

  /** `options.id` lets a caller know the id up front, e.g. to find the job the action starts. */
  act<T = unknown>(name: string, args: object = {}, options: { signal?: AbortSignal; id?: string } = {}): Promise<T> {
    const { signal, id = uuid() } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<T>((resolve, reject) => {
      const settle = () => signal?.removeEventListener("abort", abort);
      const abort = () => {
        this.pending.delete(id);
        reject(signal!.reason);
      };
      signal?.addEventListener("abort", abort, { once: true });
      this.pending.set(id, {
        resolve: (result) => (settle(), resolve(result as T)),
        reject: (error) => (settle(), reject(error)),
      });
      this.model.send({ type: "action", id, name, args });
    });
  }

  /** Forget every outstanding action, e.g. when the view is torn down. */
  dispose(): void {
    this.model.off("msg:custom", this.receive);
    for (const { reject } of this.pending.values()) reject(new Error("The panel was closed."));
    this.pending.clear();
  }

  private readonly receive = (msg: any) => {
    if (msg?.type !== "done" || typeof msg.id !== "string") return;
    const waiter = this.pending.get(msg.id);
    if (!waiter) return; // another view's action, or one abandoned by its caller
    this.pending.delete(msg.id);
    if (msg.ok) waiter.resolve(msg.result);
    else waiter.reject(new ActionError(msg.error ?? { code: "Unknown", message: "The action failed.", hint: "" }));
  };
}

export interface Deck {
  model: AnyModel;
  actions: Actions;
}

export const DeckContext = createContext<Deck | null>(null);

export function useDeck(): Deck {
  const deck = useContext(DeckContext);
  if (!deck) throw new Error("The panel needs a DeckContext provider.");
  return deck;
}

/** A trait's value; a record missing keys (a host's `{}` before its first load) gets the defaults' keys. */
function read<K extends keyof Traits>(model: AnyModel, name: K): Traits[K] {
  const value = model.get(name);
  const fallback = DEFAULTS[name];
  if (value === null || value === undefined) return fallback;
  const record = (x: unknown) => typeof x === "object" && x !== null && !Array.isArray(x);
  return record(value) && record(fallback) ? ({ ...(fallback as object), ...value } as Traits[K]) : value;
}

/** A trait's value, re-rendering the component on every `change:<name>`. */
export function useTrait<K extends keyof Traits>(name: K): Traits[K] {
  const { model } = useDeck();
  const [value, setValue] = useState(() => read(model, name));
  useEffect(() => {
    const update = () => setValue(read(model, name));
    model.on(`change:${name}`, update);
    update(); // the trait may have changed between the first render and this subscription
    return () => model.off(`change:${name}`, update);
  }, [model, name]);
  return value;
}

/**
 * Whether the kernel behind the view went away (stopped or restarted): ipywidgets then marks the model's
 * comm dead (`comm_live_update`) or closes it (`comm:close`). A host without a kernel never says so.
 */
export function useKernelGone(): boolean {
  const { model } = useDeck();
  const [gone, setGone] = useState(false);
  useEffect(() => {
    const lost = () => setGone(true);
    model.on("comm_live_update", lost);
    model.on("comm:close", lost);
    return () => {
      model.off("comm_live_update", lost);
      model.off("comm:close", lost);
    };
  }, [model]);
  return gone;
}

/** What "copy as code" connects with: the host's profile and the current workspace (never a key). */
export function useCan(): (capability: Capability) => boolean {
  const connection = useTrait("connection");
  return (capability) => can(connection, capability);
}

export function useCodeContext(): CodeContext {
  const connection = useTrait("connection");
  const workspace = useTrait("workspace");
  return { connection, workspace: workspace?.name ?? null };
}

/** The one trait the view writes: the tab shown, shared by every view of the model. */
export function useView(): [Traits["view"], (tab: Traits["view"]) => void] {
  const { model } = useDeck();
  const view = useTrait("view");
  const setView = useCallback(
    (tab: Traits["view"]) => {
      model.set("view", tab);
      model.save_changes();
    },
    [model],
  );
  return [view, setView];
}

/** Each model's selection as last chosen in one of its views, until the kernel has taken it. */
const chosen = new WeakMap<AnyModel, { selection: Selection | null; turn: number; events: Events }>();

/**
 * The selected model and version, and the way to change them. `select` is a round trip: the kernel answers
 * with the `selected` trait. Until it has, every view shows the choice just made, and a form submitted at
 * once sends it, not the trait's older value. Once the last choice is answered (or refused) the trait is
 * the truth again.
 */
export function useSelection(): [Selection, (next: Selection) => void] {
  const { model, actions } = useDeck();
  const selected = useTrait("selected");
  if (!chosen.has(model)) chosen.set(model, { selection: null, turn: 0, events: new Events() });
  const choice = chosen.get(model)!;
  const [, rerender] = useState(0);
  useEffect(() => {
    const update = () => rerender((n) => n + 1);
    choice.events.on("change", update);
    return () => choice.events.off("change", update);
  }, [choice]);
  const select = useCallback(
    (next: Selection) => {
      const turn = ++choice.turn;
      choice.selection = next;
      choice.events.emit("change");
      const settle = () => {
        if (choice.turn !== turn) return; // a later choice is still on its way
        choice.selection = null;
        choice.events.emit("change");
      };
      actions.act("select", next).then(settle, settle); // a refusal shows in the error banner
    },
    [actions, choice],
  );
  return [choice.selection ?? selected, select];
}

/** The `versions` trait where it is this model's. The kernel loads versions for the selection it holds, so
 * while the choice of another model is on its way they are still the last model's: none are offered. */
export function useVersions(modelId: string | undefined): readonly Version[] {
  const versions = useTrait("versions");
  const selected = useTrait("selected");
  return modelId !== undefined && selected.model === modelId ? versions : [];
}

export type Outcome<T> = { ok: true; result: T } | { ok: false; error: unknown };

/**
 * An action with a busy flag. Failures resolve to `{ok: false}` rather than throwing: Python also sets
 * the `error` trait, which the panel's banner shows.
 */
export function useAction<T = unknown>(
  name: string,
): [(args?: object, options?: { id?: string }) => Promise<Outcome<T>>, boolean] {
  const { actions } = useDeck();
  const [busy, setBusy] = useState(0);
  const mounted = useRef(true);
  useEffect(() => () => void (mounted.current = false), []);
  const run = useCallback(
    async (args: object = {}, options: { id?: string } = {}): Promise<Outcome<T>> => {
      setBusy((n) => n + 1);
      try {
        return { ok: true, result: await actions.act<T>(name, args, options) };
      } catch (error) {
        return { ok: false, error };
      } finally {
        if (mounted.current) setBusy((n) => n - 1);
      }
    },
    [actions, name],
  );
  return [run, busy > 0];
}
