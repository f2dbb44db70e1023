"""The sidebar's routes. Each is authenticated (token, cookie; XSRF on HTTP writes) and authorized on the
`modeldeck` resource the Jupyter Server way, so a server's own authorizer decides who may use the sidebar.
"""

from __future__ import annotations

import json
from typing import Any

from jupyter_server.auth.decorator import authorized, ws_authenticated
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from tornado import web
from tornado.websocket import WebSocketClosedError, WebSocketHandler

from .host import Sidebar
from .versions import handshake

AUTH_RESOURCE = "modeldeck"
MAX_MESSAGE = 4 * 1024 * 1024  # a predict's inputs fit easily; a bigger frame closes the socket (1009)


class VersionHandler(APIHandler):
    """`GET /modeldeck/api/version?frontend=<v>`: the lab extension asks before it shows anything."""

    auth_resource = AUTH_RESOURCE

    @web.authenticated
    @authorized
    def get(self) -> None:
        self.finish(json.dumps(handshake(self.get_query_argument("frontend", None))))


class StateSocket(WebSocketMixin, WebSocketHandler, JupyterHandler):
    """`WS /modeldeck/api/state`: the sidebar's model. Origin is checked as for Jupyter's kernel sockets."""

    auth_resource = AUTH_RESOURCE

    def initialize(self, sidebar: Sidebar) -> None:
        self.sidebar = sidebar

    def set_default_headers(self) -> None:
        """JupyterHandler's page headers mean nothing on a websocket upgrade."""

    @property
    def max_message_size(self) -> int:
        return MAX_MESSAGE

    @ws_authenticated
    @authorized("execute")
    async def get(self, *args: Any, **kwargs: Any) -> None:
        await super().get(*args, **kwargs)

    def open(self, *args: Any, **kwargs: Any) -> None:
        super().open(*args, **kwargs)
        self.sidebar.join(self)

    def on_message(self, message: str | bytes) -> None:
        self.sidebar.receive(self, message)

    def on_close(self) -> None:
        self.sidebar.leave(self)

    def send_text(self, text: str) -> None:
        try:
            self.write_message(text)
        except WebSocketClosedError:  # closed between the change and its turn on the loop
            self.sidebar.leave(self)
