"""The Blender host server client."""

from __future__ import annotations

from .base_client import BaseSocketClient


class BlenderClient(BaseSocketClient):
    app_name = "blender"
