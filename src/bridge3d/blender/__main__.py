"""``python -m bridge3d.blender``."""

from __future__ import annotations

import sys

from .headless import main

if __name__ == "__main__":
    sys.exit(main())
