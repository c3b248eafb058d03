"""What every host method accepts and returns, defined once (stdlib only: Blender's and FreeCAD's Python import it).

The host servers validate with it; the gateway derives its request models, its limits and the OpenAPI document
from it.
"""
