// The anywidget entry: mounts the panel on `el` and brings its styles. Other hosts (the JupyterLab
// sidebar) mount the same view from `./mount` and style it themselves.

import { mount } from "./mount";
import type { AnyModel } from "./panel/model";
import styles from "./panel/panel.css";

const STYLE_ID = "modeldeck-panel-styles";

/**
 * The styles, once per document or shadow root. anywidget re-applies a widget's `_css` for every new
 * instance, and replacing a stylesheet restyles the whole page, which in a large JupyterLab costs tens of
 * milliseconds per panel. A host that renders widgets in a shadow root (marimo) gets them in that root, where
 * the page's styles do not reach.
 */
function adoptStyles(el: HTMLElement): void {
  const root = el.getRootNode();
  const scope = root instanceof ShadowRoot ? root : document.head;
  const existing = scope.querySelector<HTMLStyleElement>(`#${STYLE_ID}`);
  if (existing?.textContent === styles) return;
  const style = existing ?? Object.assign(document.createElement("style"), { id: STYLE_ID });
  style.textContent = styles;
  if (!existing) scope.append(style);
}

export { mount };

export default {
  render({ model, el }: { model: AnyModel; el: HTMLElement }) {
    adoptStyles(el);
    return mount(model, el);
  },
};
