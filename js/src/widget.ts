// The anywidget entry: mounts the panel on `el` and brings its styles. Other hosts (the JupyterLab
// sidebar) mount the same view from `./mount` and style it themselves.

import { mount } from "./mount";
import type { AnyModel } from "./panel/model";
import styles from "./panel/panel.css";

const STYLE_ID = "modeldeck-panel-styles";

/**
 * The styles, once per page. anywidget re-applies a widget's `_css` for every new instance, and replacing
 * a stylesheet restyles the whole page, which in a large JupyterLab costs tens of milliseconds per panel.
 */
function adoptStyles(): void {
  const existing = document.getElementById(STYLE_ID);
  if (existing?.textContent === styles) return;
  const style = existing ?? Object.assign(document.createElement("style"), { id: STYLE_ID });
  style.textContent = styles;
  if (!existing) document.head.append(style);
}

export { mount };

export default {
  render({ model, el }: { model: AnyModel; el: HTMLElement }) {
    adoptStyles();
    return mount(model, el);
  },
};
