"""The FreeCAD host server client."""

from __future__ import annotations

from bridge3d.api.errors import FreeCADConnectionError

from .base_client import BaseSocketClient


class FreeCADClient(BaseSocketClient):
    app_name = "freecad"
    connection_error = FreeCADConnectionError
