"""The MCP server's settings, defined once (stdlib only).

`bridge3d mcp` (stdio) reads them from its environment; the gateway's ``Settings`` (``/mcp``) declares the same
``BRIDGE3D_MCP_*`` variables with these defaults and hands them over with ``McpOptions(...)``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, TypeVar

SessionPolicy = Literal["connection", "default"]
SESSION_POLICIES: tuple[SessionPolicy, ...] = ("connection", "default")
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off", ""})
NumberT = TypeVar("NumberT", int, float)


class OptionError(ValueError):
    """A BRIDGE3D_MCP_* variable holds a value the MCP server cannot use (the message names it)."""


@dataclass(frozen=True)
class McpOptions:
    """What an MCP server offers and how it behaves; each field is the variable BRIDGE3D_MCP_<FIELD>."""

    execute: bool = False
    """Offer the execute_code tool; the gateway must allow execution too (BRIDGE3D_ALLOW_EXECUTE)."""
    session: SessionPolicy = "connection"
    """connection: each MCP connection works in a session of its own, ended with the connection; default: every
    MCP connection shares the gateway's default session (the attached host servers, e.g. a GUI you watch)."""
    image_max_side: int = 768
    """The longest side, in pixels, of an image a tool returns inline (render, look, job)."""
    tool_timeout: float = 300.0
    """Seconds one tool call may take; a render or conversion still running then is cancelled."""

    def __post_init__(self) -> None:
        if self.session not in SESSION_POLICIES:
            raise OptionError(f"BRIDGE3D_MCP_SESSION must be one of {', '.join(SESSION_POLICIES)}")
        if not 64 <= self.image_max_side <= 4096:
            raise OptionError("BRIDGE3D_MCP_IMAGE_MAX_SIDE must be 64..4096 pixels")
        if not self.tool_timeout > 0:
            raise OptionError("BRIDGE3D_MCP_TOOL_TIMEOUT must be > 0 seconds")

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> McpOptions:
        """The options from BRIDGE3D_MCP_* variables (``os.environ`` by default); OptionError names a bad one."""
        env = os.environ if environ is None else environ
        defaults = cls()
        session = env.get("BRIDGE3D_MCP_SESSION", defaults.session).strip().lower()
        return cls(
            execute=_flag(env, "BRIDGE3D_MCP_EXECUTE", defaults.execute),
            session=session,  # type: ignore[arg-type]  # __post_init__ checks it
            image_max_side=_number(env, "BRIDGE3D_MCP_IMAGE_MAX_SIDE", defaults.image_max_side, int),
            tool_timeout=_number(env, "BRIDGE3D_MCP_TOOL_TIMEOUT", defaults.tool_timeout, float),
        )


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = env.get(name)
    if value is None:
        return default
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise OptionError(f"{name} must be true or false, not {value!r}")


def _number(env: Mapping[str, str], name: str, default: NumberT, kind: type[NumberT]) -> NumberT:
    value = env.get(name)
    if value is None or not value.strip():
        return default
    try:
        return kind(value.strip())
    except ValueError:
        raise OptionError(f"{name} must be a number, not {value!r}") from None
