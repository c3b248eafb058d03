"""The package boundaries, read from the source: what each package may import, and which must run on Python 3.10.

Blender 3.4-4.0 bundle Python 3.10 and FreeCAD has its own Python: the packages that run inside them import only
the stdlib, each other as listed, and their application's modules; the gateway never imports them.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "bridge3d"
STDLIB = set(sys.stdlib_module_names)
BLENDER_MODULES = {"bpy", "bmesh", "mathutils", "addon_utils", "bpy_extras"}
FREECAD_MODULES = {"FreeCAD", "FreeCADGui", "Part", "Mesh", "MeshPart", "Import", "ImportGui", "PySide", "PySide2"}
# package -> (bridge3d packages it may import, other top-level modules it may import)
ALLOWED: dict[str, tuple[set[str], set[str]]] = {
    "rpc": ({"rpc"}, set()),
    "commands": ({"commands", "rpc"}, set()),
    "formats": ({"formats", "rpc"}, set()),
    "blender": ({"blender", "rpc", "commands", "formats"}, BLENDER_MODULES),
    "freecad": ({"freecad", "rpc", "commands", "formats"}, FREECAD_MODULES),
}
IN_APPLICATION = tuple(ALLOWED)
HOST_PACKAGES = {"blender", "freecad"}


def modules(package: str) -> list[Path]:
    return sorted((SRC / package).rglob("*.py"))


def imports(path: Path) -> list[tuple[str, int]]:
    """Every imported module as an absolute dotted name (relative imports resolved), with its line."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package_parts = ["bridge3d", *path.relative_to(SRC).parent.parts]
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package_parts[: len(package_parts) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
                if node.module is None:  # from . import x: each name may be a module
                    found += [(f"{module}.{alias.name}", node.lineno) for alias in node.names]
                    continue
            else:
                module = node.module or ""
            found.append((module, node.lineno))
    return found


def bridge3d_package(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "bridge3d" and len(parts) > 1 else None


@pytest.mark.parametrize("package", IN_APPLICATION)
def test_in_application_packages_import_only_what_they_may(package: str) -> None:
    own, applications = ALLOWED[package]
    wrong = []
    for path in modules(package):
        for module, line in imports(path):
            top = module.split(".")[0]
            inner = bridge3d_package(module)
            if top == "bridge3d":
                if inner is not None and inner not in own and module != "bridge3d.__init__":
                    allowed_module = module in ("bridge3d", "bridge3d.__version__", "bridge3d.SHARED_HOST_PACKAGES")
                    if not allowed_module:
                        wrong.append(f"{path.relative_to(SRC)}:{line} imports {module}")
            elif top not in STDLIB and top not in applications:
                wrong.append(f"{path.relative_to(SRC)}:{line} imports {module}")
    assert not wrong, "\n".join(wrong)


def test_the_gateway_and_the_cli_never_import_the_host_packages() -> None:
    wrong = [
        f"{path.relative_to(SRC)}:{line} imports {module}"
        for package in ("api", "cli")
        for path in modules(package)
        for module, line in imports(path)
        if bridge3d_package(module) in HOST_PACKAGES
        # `bridge3d blender|freecad` start a host server: the CLI imports their entry points by name at run time.
    ]
    assert not wrong, "\n".join(wrong)


def test_the_transport_does_not_know_http() -> None:
    """The gateway's connections raise the rpc error types; only api/errors.py maps them to HTTP."""
    wrong = [
        f"{path.relative_to(SRC)}:{line} imports {module}"
        for path in modules("api/clients")
        for module, line in imports(path)
        if module.split(".")[0] in {"fastapi", "starlette"} or module in {"bridge3d.api.errors"}
    ]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("package", IN_APPLICATION)
def test_in_application_packages_parse_as_python_3_10(package: str) -> None:
    for path in modules(package):
        ast.parse(path.read_text(encoding="utf-8"), filename=str(path), feature_version=(3, 10))


def test_the_import_walk_sees_relative_imports() -> None:
    """The checks above would pass vacuously if relative imports were not resolved."""
    found = {module for module, _ in imports(SRC / "blender" / "registry.py")}
    assert "bridge3d.rpc.dispatcher" in found and "bridge3d.commands" in found


# The SDK (`pip install bridge3d`, no extras): the stdlib, its three dependencies and its own modules. Never the
# gateway (FastAPI, uvicorn) nor the host packages (bpy). Its generator is a development tool that reads the
# gateway's routes; the SDK never imports it.
CLIENT_DEPENDENCIES = {"httpx", "pydantic", "websockets"}
CLIENT_DEVELOPMENT_TOOLS = {"_generate.py"}


def test_the_client_imports_only_the_stdlib_and_its_dependencies() -> None:
    wrong = []
    for path in modules("client"):
        if path.name in CLIENT_DEVELOPMENT_TOOLS:
            continue
        for module, line in imports(path):
            top = module.split(".")[0]
            inner = bridge3d_package(module)
            allowed = inner in (None, "client") if top == "bridge3d" else top in STDLIB | CLIENT_DEPENDENCIES
            if not allowed:
                wrong.append(f"{path.relative_to(SRC)}:{line} imports {module}")
    assert modules("client"), "the client package has moved"
    assert not wrong, "\n".join(wrong)


# The MCP server (`bridge3d[mcp]`) drives the applications through the SDK like any client: never the host packages,
# and the gateway only from its /mcp mount (http.py). Its options are stdlib-only: the gateway's settings read them.
MCP_GATEWAY_MOUNT = "http.py"


def test_the_mcp_server_reaches_the_applications_only_through_the_gateway() -> None:
    wrong = []
    for path in modules("mcp"):
        for module, line in imports(path):
            inner = bridge3d_package(module)
            gateway = inner == "api" and path.name != MCP_GATEWAY_MOUNT
            if inner in HOST_PACKAGES or gateway:
                wrong.append(f"{path.relative_to(SRC)}:{line} imports {module}")
    assert modules("mcp"), "the mcp package has moved"
    assert not wrong, "\n".join(wrong)
    options = [module for module, _ in imports(SRC / "mcp" / "options.py") if module.split(".")[0] not in STDLIB]
    assert not options, f"mcp/options.py imports {options}"
