"""What every host method accepts and returns, defined once (stdlib only: Blender's and FreeCAD's Python import it).

The host servers validate with it (``signature.clean``, run by the dispatcher before each handler); the gateway
validates the same way before forwarding and derives its OpenAPI document from it (``signature.params_schema``);
the MCP tools and the SDK's signatures come from it too. ``schema`` holds the building blocks, ``blender`` and
``freecad`` the two command tables, ``results`` the shapes of what they return.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from ..rpc.dispatcher import Registry
from . import blender, files, freecad, state
from .schema import Command
from .signature import clean

TABLES: dict[str, dict[str, Command]] = {
    "blender": {**blender.COMMANDS, **files.COMMANDS, **state.COMMANDS},
    "freecad": {**freecad.COMMANDS, **files.COMMANDS, **state.COMMANDS},
}


def command(app: str, method: str) -> Command:
    """The declaration of ``method`` on ``app`` (KeyError when there is none)."""
    return TABLES[app][method]


def register(registry: Registry, app: str, handlers: Mapping[str, Callable[..., Any]]) -> None:
    """Add every command of ``app``'s table with its handler; each call's params are cleaned before the handler
    runs, so handlers receive exactly the declared parameters, checked and complete."""
    table = TABLES[app]
    if set(handlers) != set(table):
        raise ValueError(
            f"{app}: handlers without a declaration {sorted(set(handlers) - set(table))}, "
            f"declarations without a handler {sorted(set(table) - set(handlers))}"
        )
    for name, declared in table.items():
        registry.add(
            name,
            handlers[name],
            main_thread=declared.main_thread,
            cancellable=declared.cancellable,
            validate=functools.partial(clean, declared),
            description=declared.description,
            summarize=declared.result.summarize if declared.result is not None and declared.result.summary else None,
            batch=declared.batch,
        )
