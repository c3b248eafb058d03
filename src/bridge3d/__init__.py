"""bridge3d: one REST + WebSocket API in front of real Blender and real FreeCAD."""

__version__ = "0.1.0"
