"""Run inside the Blender GUI: install the add-on zip, enable it, start the server.

``blender --factory-startup --python gui_boot.py -- ZIP PORT TOKEN WORKSPACE STATUS_FILE``
writes ``ok <port>`` or ``error <message>`` to STATUS_FILE. Not a pytest module.
"""

import json
import sys
import traceback

import addon_utils
import bpy


def main() -> None:
    zip_path, port, token, workspace, status_file = sys.argv[sys.argv.index("--") + 1 :]
    try:
        bpy.ops.preferences.addon_install(filepath=zip_path, overwrite=True)
        addon_utils.enable("bridge3d_blender", default_set=True, handle_error=None)
        prefs = bpy.context.preferences.addons["bridge3d_blender"].preferences
        prefs.port = int(port)
        prefs.token = token
        prefs.workspace = workspace
        result = bpy.ops.bridge3d.server_start()
        import bridge3d_blender.bridge3d.blender.gui as gui

        status = {"ok": "FINISHED" in result, **gui.SERVER.status(), "background": bpy.app.background}
    except Exception:  # report anything to the test instead of dying silently
        status = {"ok": False, "error": traceback.format_exc()}
    with open(status_file, "w", encoding="utf-8") as handle:
        json.dump(status, handle)


main()
