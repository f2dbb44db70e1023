// The anywidget entry: mounts the panel on `el`, with its styles bundled beside it (panel.css). Other
// hosts (the JupyterLab sidebar) mount the same view from `./mount`.

import { mount } from "./mount";
import type { AnyModel } from "./panel/model";
import "./panel/panel.css";

export { mount };

export default {
  render({ model, el }: { model: AnyModel; el: HTMLElement }) {
    return mount(model, el);
  },
};
