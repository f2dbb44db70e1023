// The modeldeck JupyterLab extension: a left sidebar rendering the notebook Panel's view over the
// modeldeck server extension, a palette command to open it and a status bar item (docs/sidebar-protocol.md).

import { ILayoutRestorer, type JupyterFrontEnd, type JupyterFrontEndPlugin } from "@jupyterlab/application";
import { ICommandPalette } from "@jupyterlab/apputils";
import { URLExt } from "@jupyterlab/coreutils";
import { INotebookTracker } from "@jupyterlab/notebook";
import { ServerConnection } from "@jupyterlab/services";
import { IStatusBar } from "@jupyterlab/statusbar";
import pkg from "../package.json";
import { handshake } from "./handshake";
import { insertCode } from "./insert";
import { SidebarModel } from "./shim";
import { DeckSidebar } from "./sidebar";
import { DeckStatus } from "./status";

const OPEN = "modeldeck:open";

/** The state socket's URL, authenticated as JupyterLab's own sockets are (the token as a query). */
function stateUrl(settings: ServerConnection.ISettings): string {
  const url = URLExt.join(settings.wsUrl, "modeldeck/api/state");
  return settings.token ? `${url}?token=${encodeURIComponent(settings.token)}` : url;
}

/** The handshake, then the view; not awaited by `activate`, so a slow server never holds up JupyterLab. */
async function connect(sidebar: DeckSidebar, status: DeckStatus, tracker: INotebookTracker): Promise<void> {
  const settings = ServerConnection.makeSettings();
  const request = (path: string) => ServerConnection.makeRequest(URLExt.join(settings.baseUrl, path), {}, settings);
  const checked = await handshake(pkg.version, request);
  if (!checked.ok) return sidebar.showProblem(checked.message);
  const model = new SidebarModel({ url: stateUrl(settings), insertCode: (code) => insertCode(tracker, code) });
  sidebar.disposed.connect(() => model.dispose());
  sidebar.showView(model);
  status.follow(model);
}

function activate(
  app: JupyterFrontEnd,
  tracker: INotebookTracker,
  restorer: ILayoutRestorer | null,
  palette: ICommandPalette | null,
  statusBar: IStatusBar | null,
): void {
  const sidebar = new DeckSidebar();
  app.shell.add(sidebar, "left", { rank: 850 });
  restorer?.add(sidebar, sidebar.id);

  app.commands.addCommand(OPEN, {
    label: "modeldeck: Open sidebar",
    icon: sidebar.title.icon,
    execute: () => app.shell.activateById(sidebar.id),
  });
  palette?.addItem({ command: OPEN, category: "modeldeck" });

  const status = new DeckStatus(() => void app.commands.execute(OPEN));
  statusBar?.registerStatusItem("modeldeck:status", { item: status, align: "left", rank: 100 });

  void connect(sidebar, status, tracker);
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: "modeldeck:sidebar",
  description: "The modeldeck sidebar: workspaces, models and inference beside every notebook, no kernel needed.",
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ILayoutRestorer, ICommandPalette, IStatusBar],
  activate,
};

export default plugin;
