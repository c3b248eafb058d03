"""The Blender host server: command table, events, headless entry point and GUI add-on.

Importing this package does not import ``bpy``; ``registry``, ``headless`` and
the command modules do.
"""

from __future__ import annotations

DEFAULT_PORT = 9876
APP_NAME = "blender"
