"""The Jupyter Server extension: `_load_jupyter_server_extension` adds the sidebar's routes.

Enabled on install by `jupyter-config/server-config/modeldeck.json`; found through
`modeldeck._jupyter_server_extension_points`.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from jupyter_server.utils import url_path_join
from traitlets import Unicode
from traitlets.config import Configurable

from ..profiles import connect
from .handlers import StateSocket, VersionHandler
from .host import Sidebar


class ModelDeckSidebar(Configurable):
    """The sidebar's options, in any Jupyter Server config (`c.ModelDeckSidebar.profile = "team"`)."""

    profile = Unicode(
        None,
        allow_none=True,
        config=True,
        help="The profile the sidebar connects with; by default the one `modeldeck.connect()` picks "
        "(MODELDECK_PROFILE, else the profiles file's default, else the embedded platform).",
    )


def _load_jupyter_server_extension(server_app: Any) -> None:
    options = ModelDeckSidebar(config=server_app.config)
    sidebar = Sidebar(partial(connect, options.profile))
    web_app = server_app.web_app
    web_app.settings["modeldeck_sidebar"] = sidebar
    api = url_path_join(web_app.settings["base_url"], "modeldeck", "api")
    web_app.add_handlers(".*$", [
        (url_path_join(api, "version"), VersionHandler),
        (url_path_join(api, "state"), StateSocket, {"sidebar": sidebar}),
    ])  # fmt: skip
    server_app.log.info("modeldeck sidebar: routes under %s", api)
