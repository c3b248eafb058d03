"""Model file formats as their importers read them: which other files a file names, and whether it can be checked.

An importer reads whatever path a file gives it: an OBJ's ``mtllib``, a glTF buffer or image URI, a USD sublayer,
reference or payload, a link in a FreeCAD document. Before such a file is imported (or opened), every name it gives
must stay inside the workspace. Two rules make that check hold:

- **The content decides, not the extension.** Importers choose their parser from the bytes (Blender reads any file
  starting with ``glTF`` as binary glTF and anything else as glTF JSON; FreeCAD reads the first entry of an
  .FCStd archive as its document) or from the file's extension (FreeCAD's mesh reader, USD's layer formats). A file
  is therefore checked as every format its declared format, its extension or its content could make an importer
  read it as (``references.readers``).
- **What cannot be checked is refused.** A file that a chosen parser cannot read, or that does not look like what
  the importer reads (an FBX that is not binary FBX, a USD file that is neither crate, text nor package, a .blend
  that is neither plain nor compressed .blend, an .FCStd without a readable Document.xml first), is refused rather
  than taken to name no files.

Modules: ``sniff`` (content signatures), ``names`` (the name rules and how refusals are reported), ``archive`` (zip
entries as USD and FreeCAD read them: local headers from the start of the file), ``obj``, ``gltf``, ``usd`` and
``fcstd`` (one parser per format) and ``references`` (which parsers a file needs, the gateway's and the hosts'
checks).

Stdlib only, plus ``bridge3d.rpc`` for ``InvalidParams`` and ``check_file_name``: it runs in the gateway and inside
Blender's and FreeCAD's own Python (3.10 or newer), and is vendored into the GUI add-ons (relative imports only).
"""
