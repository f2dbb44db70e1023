// Listeners by event name with AnyModel's `on` / `off` semantics, for hosts' models (the sidebar's shim)
// and the tests' fake model.

type Listener = (...args: any[]) => void;

export class Events {
  private readonly listeners = new Map<string, Set<Listener>>();

  on(event: string, callback: Listener): void {
    if (!this.listeners.has(event)) this.listeners.set(event, new Set());
    this.listeners.get(event)!.add(callback);
  }

  /** No event: forget every listener; no callback: every listener of that event. */
  off(event?: string | null, callback?: Listener | null): void {
    if (!event) return this.listeners.clear();
    if (!callback) return void this.listeners.delete(event);
    this.listeners.get(event)?.delete(callback);
  }

  emit(event: string, ...args: unknown[]): void {
    for (const cb of [...(this.listeners.get(event) ?? [])]) cb(...args);
  }

  count(event: string): number {
    return this.listeners.get(event)?.size ?? 0;
  }
}
