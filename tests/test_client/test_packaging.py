"""`pip install bridge3d` is the SDK (and the in-application packages) without the gateway's dependencies;
`pip install "bridge3d[server]"` adds the gateway; requirements.txt, the lock scripts/install.sh installs, pins
every package either of them (and the test and Blender extras) pulls in."""

from __future__ import annotations

import ast
import importlib.metadata
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
SERVER_ONLY = {"fastapi", "starlette", "uvicorn", "pydantic-settings", "python-multipart", "bpy"}


def project() -> dict[str, list[str]]:
    table = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {"": table["dependencies"], **table["optional-dependencies"]}


def lock() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = version.strip()
    return pins


def closure(requirements: list[str]) -> dict[str, Requirement]:
    """Every distribution the requirements pull in (markers evaluated here, extras followed), by name."""
    found: dict[str, Requirement] = {}
    pending = [(Requirement(text), "") for text in requirements]
    while pending:
        requirement, extra = pending.pop()
        environment = {key: str(value) for key, value in default_environment().items()} | {"extra": extra}
        if requirement.marker is not None and not requirement.marker.evaluate(environment):
            continue
        name = canonicalize_name(requirement.name)
        extras = {(name, wanted) for wanted in requirement.extras}
        if name in found and not extras:
            continue
        found.setdefault(name, requirement)
        for wanted in ["", *requirement.extras]:
            for text in importlib.metadata.requires(requirement.name) or []:
                dependency = Requirement(text)
                if wanted or dependency.marker is None or "extra" not in str(dependency.marker):
                    pending.append((dependency, wanted))
    return found


def test_the_base_install_is_the_sdk_without_the_gateway() -> None:
    groups = project()
    base = set(closure(groups[""]))
    assert {"httpx", "pydantic", "websockets"} <= base
    assert not base & SERVER_ONLY, base & SERVER_ONLY
    assert {"fastapi", "uvicorn"} <= set(closure(groups["server"]))


def test_the_lock_pins_everything_every_group_pulls_in() -> None:
    pins = lock()
    for group, requirements in project().items():
        for name, requirement in closure(requirements).items():
            assert name in pins, f"{name} ({group or 'base'} needs {requirement}) is not in requirements.txt"
            assert requirement.specifier.contains(pins[name], prereleases=True), (
                f"requirements.txt pins {name}=={pins[name]}, outside {requirement} ({group or 'base'})"
            )


# Modules of bridge3d.api that only an extra's users load, and that extra: cluster mode (imported only when
# BRIDGE3D_RAY_ADDRESS is set; tests/test_cluster checks that nothing else imports them).
EXTRA_MODULES = {"workers/ray.py": "cluster", "workers/ray_host.py": "cluster", "workers/ray_cluster.py": "cluster"}


def third_party_imports(package: str, extra: str | None = None) -> set[str]:
    """What ``bridge3d.<package>`` imports from outside the standard library: the modules every install of the
    package loads, or (``extra``) those that only that extra's users load."""
    found = set()
    for path in (ROOT / "src" / "bridge3d" / package).rglob("*.py"):
        relative = path.relative_to(ROOT / "src" / "bridge3d" / package).as_posix()
        if EXTRA_MODULES.get(relative) != extra:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                found.add(node.module.split(".")[0])
    return {name for name in found if name not in sys.stdlib_module_names and name != "bridge3d"}


def test_the_server_extra_has_what_the_gateway_imports() -> None:
    groups = project()
    installed = set(closure(groups[""] + groups["server"]))
    providers = importlib.metadata.packages_distributions()
    for package in ("api", "cli"):
        for module in third_party_imports(package):
            distributions = {canonicalize_name(name) for name in providers.get(module, [module])}
            assert distributions & installed, f"bridge3d.{package} imports {module}, which [server] does not install"
    with_cluster = set(closure(groups[""] + groups["server"] + groups["cluster"]))
    for module in third_party_imports("api", extra="cluster"):
        distributions = {canonicalize_name(name) for name in providers.get(module, [module])}
        assert distributions & with_cluster, f"cluster mode imports {module}, which [server,cluster] does not install"
    client_modules = third_party_imports("client") - {"fastapi"}  # the generator, a development tool, reads routes
    for module in client_modules:
        distributions = {canonicalize_name(name) for name in providers.get(module, [module])}
        assert distributions & set(closure(groups[""])), f"bridge3d.client imports {module}, not a base dependency"


def test_importing_the_client_loads_nothing_of_the_server() -> None:
    probe = (
        "import sys, bridge3d.client\n"
        "loaded = sorted({m.split('.')[0] for m in sys.modules} & {'fastapi', 'starlette', 'uvicorn', 'bpy',"
        " 'pydantic_settings', 'bridge3d.api'})\n"
        "print(loaded, sorted(m for m in sys.modules if m.startswith(('bridge3d.api', 'bridge3d.blender',"
        " 'bridge3d.freecad'))))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[] []"
