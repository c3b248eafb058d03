"""The FreeCAD host server: command table, document events, headless and GUI entry points.

Importing this package does not import FreeCAD; ``headless``, ``registry``, the command modules
and ``gui`` do (after ``libpath.ensure_freecad_importable()``).
"""

from __future__ import annotations

DEFAULT_PORT = 9877
APP_NAME = "freecad"
