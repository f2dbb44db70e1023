"""The Jupyter Server extension: the sidebar's routes, and its state closed when the server stops.

Enabled on install by `jupyter-config/server-config/modeldeck.json`; found through
`modeldeck._jupyter_server_extension_points`.
"""

from __future__ import annotations

from jupyter_server.extension.application import ExtensionApp
from traitlets import Unicode

from ..deck import connect
from .handlers import StateSocket, VersionHandler
from .host import Sidebar


class ModelDeckSidebar(ExtensionApp):
    """The sidebar's server side; its options go in any Jupyter Server config
    (`c.ModelDeckSidebar.profile = "team"`)."""

    name = "modeldeck"

    profile = Unicode(
        None,
        allow_none=True,
        config=True,
        help="The profile the sidebar connects with first; by default the one `modeldeck.connect()` picks "
        "(MODELDECK_PROFILE, else the profiles file's default, else the embedded platform). The sidebar's "
        "profile picker switches to any other configured profile.",
    )

    def initialize_settings(self) -> None:
        self.sidebar = Sidebar(connect, self.profile)
        self.settings["modeldeck_sidebar"] = self.sidebar  # merged into the web app's settings

    def initialize_handlers(self) -> None:
        # Relative to the server's base_url, which ExtensionApp prepends.
        self.handlers.extend([
            ("/modeldeck/api/version", VersionHandler),
            ("/modeldeck/api/state", StateSocket, {"sidebar": self.sidebar}),
        ])  # fmt: skip

    async def stop_extension(self) -> None:
        """Cancel the sidebar's running jobs and close its connection, so the server exits promptly."""
        self.sidebar.close()
