/** The panel mounted over a fake model for a test, and the DOM events a user's typing makes. */
import { act } from "preact/test-utils";
import { mount } from "../mount";
import { FakeModel } from "./fake-model";
import { sampleTraits } from "./sample";

let unmount: (() => void) | null = null;

/** Mount the panel over the sample traits with `traits` on top; `close()` (after each test) unmounts it. */
export function open(traits: Record<string, unknown> = {}) {
  const model = new FakeModel({ ...sampleTraits(), ...traits });
  const el = document.createElement("div");
  document.body.append(el);
  act(() => {
    unmount = mount(model, el);
  });
  const q = <T extends Element = HTMLElement>(id: string) => el.querySelector<T & HTMLElement>(`[data-testid="${id}"]`);
  const all = (id: string) => [...el.querySelectorAll<HTMLElement>(`[data-testid="${id}"]`)];
  const last = () => model.sent.at(-1)!;  // the newest action the view sent
  return { model, el, q, all, last };
}

/** Unmount the panel `open` mounted, if any, and clear the page. */
export function close(): void {
  act(() => unmount?.());
  unmount = null;
  document.body.innerHTML = "";
}

export function input(el: HTMLInputElement | HTMLTextAreaElement, value: string): void {
  act(() => {
    el.value = value;
    el.dispatchEvent(new Event("input", { bubbles: true }));
  });
}
