// "Insert code" from the view: a new code cell below the active cell of the notebook the user last
// worked in, selected so the next Shift+Enter runs it.

import { Notification } from "@jupyterlab/apputils";
import { NotebookActions, type INotebookTracker } from "@jupyterlab/notebook";

export function insertCode(tracker: INotebookTracker, code: string): void {
  const panel = tracker.currentWidget;
  if (!panel?.content.model) {
    Notification.warning("modeldeck: open a notebook first, then insert the code again.", { autoClose: 5000 });
    return;
  }
  const notebook = panel.content;
  NotebookActions.insertBelow(notebook);
  if (notebook.activeCell?.model.type !== "code") NotebookActions.changeCellType(notebook, "code");
  notebook.activeCell?.model.sharedModel.setSource(code);
  notebook.scrollToItem(notebook.activeCellIndex);
}
