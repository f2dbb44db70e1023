// The view on any host: renders the panel on `el` over an AFM-shaped model. Styles are the host's job
// (anywidget ships them beside the bundle, the lab extension imports panel.css into its own).

import { h, render } from "preact";
import { App } from "./panel/App";
import { Actions, DeckContext, type AnyModel } from "./panel/model";

export function mount(model: AnyModel, el: HTMLElement): () => void {
  const actions = new Actions(model);
  render(h(DeckContext.Provider, { value: { model, actions } }, h(App, {})), el);
  return () => {
    render(null, el);
    actions.dispose();
  };
}
