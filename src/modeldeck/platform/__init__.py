"""The modeldeck platform: embedded by default, `modeldeck serve` for a team.

Heavy dependencies (SQLAlchemy, FastAPI, onnxruntime) load only when this package is imported, never on
`import modeldeck`.
"""

from .core import Platform
from .server import PlatformServer
from .settings import Settings

__all__ = ["Platform", "PlatformServer", "Settings"]
