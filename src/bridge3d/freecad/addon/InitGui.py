# mypy: ignore-errors
# Bridge3D FreeCAD add-on (GUI part): the Bridge3D workbench with Start/Stop server commands.
#
# FreeCAD exec()s this file; names defined here are not visible inside class bodies or
# methods, so the methods import what they need themselves.
import os as _os
import sys as _sys

_bridge3d_here = _os.path.realpath(Dir)  # noqa: F821 - provided by FreeCAD's loader
for _bridge3d_root in (_bridge3d_here, _os.path.dirname(_os.path.dirname(_os.path.dirname(_bridge3d_here)))):
    if _os.path.isfile(_os.path.join(_bridge3d_root, "bridge3d", "__init__.py")):
        if _bridge3d_root not in _sys.path:
            _sys.path.insert(0, _bridge3d_root)
        break


class Bridge3DWorkbench(Workbench):  # noqa: F821 - FreeCADGui.Workbench, provided by the loader
    MenuText = "Bridge3D"
    ToolTip = "Serve this FreeCAD session to the bridge3d REST/WebSocket gateway"

    def Initialize(self):  # noqa: N802 - FreeCAD workbench API
        from bridge3d.freecad import gui_commands

        gui_commands.register()
        self.appendToolbar("Bridge3D", gui_commands.workbench_items())
        self.appendMenu("Bridge3D", gui_commands.workbench_items())

    def GetClassName(self):  # noqa: N802
        return "Gui::PythonWorkbench"


Bridge3DWorkbench.Icon = _os.path.join(_bridge3d_here, "Resources", "bridge3d.svg")
Gui.addWorkbench(Bridge3DWorkbench())  # noqa: F821

try:
    from bridge3d.freecad import gui_commands as _bridge3d_commands

    _bridge3d_commands.register()  # usable from any workbench and from macros
    _bridge3d_commands.schedule_autostart()
except Exception as _bridge3d_error:  # noqa: BLE001 - report, never break FreeCAD start-up
    FreeCAD.Console.PrintError(f"bridge3d add-on: {_bridge3d_error}\n")  # noqa: F821
