// The anywidget entry: mounts the panel on `el`. The view itself only knows the AFM model interface, so
// another host (a JupyterLab sidebar) can mount it with its own model.

import { h, render } from "preact";
import { App } from "./panel/App";
import { Actions, DeckContext, type AnyModel } from "./panel/model";
import "./panel/panel.css";

export function mount(model: AnyModel, el: HTMLElement): () => void {
  const actions = new Actions(model);
  render(h(DeckContext.Provider, { value: { model, actions } }, h(App, {})), el);
  return () => {
    render(null, el);
    actions.dispose();
  };
}

export default {
  render({ model, el }: { model: AnyModel; el: HTMLElement }) {
    return mount(model, el);
  },
};
