"""Helpers of the SDK tests."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any


class Calls:
    """A client, sync or async, called the same way (coroutines run to completion), remembering every method
    called by its dotted place (``blender.objects.get``) so a test can check it called all of them."""

    def __init__(self, target: Any, runner: asyncio.Runner | None, called: set[str], place: str = "") -> None:
        self._target = target
        self._runner = runner
        self._called = called
        self._place = place

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        place = f"{self._place}.{name}" if self._place else name
        if inspect.ismethod(value):
            return self._method(value, place)
        return Calls(value, self._runner, self._called, place)

    def wrap(self, value: Any, place: str) -> Calls:
        """Another SDK object (a session from ``with_session``) called the same way, its calls counted under
        ``place``."""
        return Calls(value, self._runner, self._called, place)

    def _method(self, method: Callable[..., Any], place: str) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            self._called.add(place)
            result = method(*args, **kwargs)
            if inspect.isawaitable(result):
                assert self._runner is not None, f"{place} is a coroutine on a sync client"
                return self._runner.run(result)  # type: ignore[arg-type]
            return result

        return call
