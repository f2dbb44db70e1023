"""The notebook panel: an anywidget hosting the view of `js/src/panel/` over a DeckState.

The widget's synced traits mirror the state's (docs/panel-protocol.md); the view's actions arrive as
custom messages and are answered, each once, by a `done` message when their work ends. Beside the widget view
its display carries a static summary (`text/html`), which shows wherever no widget can run: a notebook exported
to HTML, opened with no kernel, or rendered by a site that shows saved outputs.
"""

from __future__ import annotations

import contextlib
import html
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from .errors import DeckError
from .state import SYNCED, DeckState

STATIC = Path(__file__).parent / "static"
FIRST_LOAD_WAIT = 0.25  # seconds a new panel waits for its first data; a slow platform's data follows later
SUMMARY_WAIT = 5.0  # seconds the first display waits for the first data, so the saved summary is not empty
SUMMARY_MODELS = 50  # models listed in the static summary; the rest are counted
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
    models_notes = traitlets.List().tag(sync=True)
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
        self._loading = loading
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

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """The widget view, and the summary for where no widget runs (nbconvert picks it when the notebook
        holds no widget state; a live front end ranks the widget view first)."""
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is None:
            return None
        data, metadata = bundle if isinstance(bundle, tuple) else (bundle, {})
        with contextlib.suppress(TimeoutError):  # a slow platform: the summary says what is known so far
            self._loading.result(timeout=SUMMARY_WAIT)
        return {**data, "text/html": summary(self.state.connection, self.state.workspace, self.state.models)}, metadata


def summary(connection: dict[str, Any], workspace: dict[str, Any] | None, models: list[dict[str, Any]]) -> str:
    """A static picture of a panel's state: profile, account, workspace and models, as escaped HTML with
    inline styles and no script. Names only: never a URL (it may carry credentials) or a key."""
    where = (
        f"profile <b>{_escaped(connection.get('profile'))}</b> ({_escaped(connection.get('kind'))})"
        f" · account <b>{_escaped(connection.get('account'))}</b>"
        f" · workspace <b>{_escaped((workspace or {}).get('name'))}</b>"
    )
    cell = "style='text-align:left;padding:2px 12px 2px 0'"
    rows = "".join(
        f"<tr><td {cell}>{_escaped(m.get('name'))}</td><td {cell}>{_escaped(m.get('latest_version'))}</td>"
        f"<td {cell}>{_escaped(m.get('latest_approval'))}</td><td {cell}>{_escaped(m.get('latest_format'))}</td>"
        f"<td {cell}>{_escaped(m.get('owner_workspace_name'))}</td></tr>"
        for m in models[:SUMMARY_MODELS]
    )
    head = "".join(f"<th {cell}>{h}</th>" for h in ("model", "latest", "approval", "format", "owner"))
    count = f"{len(models)} model{'' if len(models) == 1 else 's'}"
    more = f"<p>… and {len(models) - SUMMARY_MODELS} more</p>" if len(models) > SUMMARY_MODELS else ""
    table = f"<table><tr>{head}</tr>{rows}</table>{more}" if models else ""
    return (
        "<div class='modeldeck-summary' style='font-family:sans-serif;font-size:13px'>"
        f"<p><b>modeldeck</b> · {where} · {count}</p>{table}"
        "<p style='color:#777'>A snapshot from when the cell ran: run it with a kernel for the live panel.</p>"
        "</div>"
    )


def _escaped(value: Any) -> str:
    """A value as HTML text (a model may be named `<img src=x onerror=...>`)."""
    return html.escape(str(value or ""))
