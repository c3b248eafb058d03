"""bridge3d: one REST + WebSocket API in front of real Blender and real FreeCAD."""

__version__ = "0.1.0"

# The stdlib-only packages every host server carries (the GUI add-ons vendor them beside their application package).
SHARED_HOST_PACKAGES = ("rpc", "commands", "formats")
