"""The Blender host server client."""

from __future__ import annotations

from bridge3d.api.errors import BlenderConnectionError

from .base_client import BaseSocketClient


class BlenderClient(BaseSocketClient):
    app_name = "blender"
    connection_error = BlenderConnectionError
