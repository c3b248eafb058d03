"""The FreeCAD host server client."""

from __future__ import annotations

from .base_client import BaseSocketClient


class FreeCADClient(BaseSocketClient):
    app_name = "freecad"
