"""The notebook panel: an anywidget hosting the view of `js/src/panel/` over a DeckState.

The widget's synced traits mirror the state's (docs/panel-protocol.md); the view's actions arrive as
custom messages and are answered, each once, by a `done` message when their work ends.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from .errors import DeckError
from .state import SYNCED, DeckState

STATIC = Path(__file__).parent / "static"
FIRST_LOAD_WAIT = 0.25  # seconds a new panel waits for its first data; a slow platform's data follows later
if not (STATIC / "panel.js").is_file():
    raise DeckError(
        "The panel's front end is not built.",
        code="Panel.NotBuilt",
        hint="Install modeldeck from a wheel, or build it in a checkout: cd js && npm ci && npm run build.",
    )


def _kernel_namespace() -> dict[str, Any]:
    try:
        from IPython import get_ipython
    except ImportError:
        return {}
    shell = get_ipython()
    return shell.user_ns if shell is not None else {}


class Panel(anywidget.AnyWidget):
    """Switch workspaces, browse authorized models and versions, register, chat and predict.

    `deck.panel()` or `md.Panel(deck)`. (The panel takes a deck rather than opening one, so the surfaces
    sit above the client and `deck.panel()` is the one way up: docs/architecture.md.)
    Display it several times: every view, and `deck.use(...)` run in a cell, stay in step.
    """

    # A path, not a string: with ANYWIDGET_HMR=1 an edited bundle reaches open panels live. The styles
    # travel inside it and are applied once per page (js/src/widget.ts), not per panel as `_css` would.
    _esm = STATIC / "panel.js"

    version = traitlets.Unicode().tag(sync=True)
    connection = traitlets.Dict().tag(sync=True)
    workspace = traitlets.Dict(allow_none=True).tag(sync=True)
    workspaces = traitlets.List().tag(sync=True)
    models = traitlets.List().tag(sync=True)
    selected = traitlets.Dict().tag(sync=True)
    versions = traitlets.List().tag(sync=True)
    grants = traitlets.List().tag(sync=True)
    jobs = traitlets.List().tag(sync=True)
    chat = traitlets.Dict().tag(sync=True)
    prediction = traitlets.Dict(allow_none=True).tag(sync=True)
    variables = traitlets.List().tag(sync=True)
    enums = traitlets.Dict().tag(sync=True)
    error = traitlets.Dict(allow_none=True).tag(sync=True)
    view = traitlets.Unicode("models").tag(sync=True)
    deployments = traitlets.List().tag(sync=True)
    deployment_events = traitlets.Dict().tag(sync=True)

    def __init__(self, deck: Any, **kwargs: Any) -> None:
        state = DeckState(deck, namespace=_kernel_namespace)
        loading = state.submit("refresh", initial=True)
        with contextlib.suppress(TimeoutError):  # a quick platform's data opens with the panel, no re-render
            loading.result(timeout=FIRST_LOAD_WAIT)
        super().__init__(**{name: getattr(state, name) for name in SYNCED}, **kwargs)
        self.deck, self.state = deck, state
        for name in SYNCED:
            if name == "view":
                traitlets.link((state, name), (self, name))
            else:
                traitlets.dlink((state, name), (self, name))
        self.on_msg(self._on_message)

    def _on_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "action":
            self.state.dispatch(str(content.get("id", "")), content.get("name"), content.get("args"), self.send)

    def close(self) -> None:
        self.state.close()
        super().close()

    def __repr__(self) -> str:  # never serialize the traits to print a repr
        return f"Panel(deck={self.deck!r})"
