"""A plain method registry: names to callables, named params bound by signature."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import logging
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from .errors import InternalError, InvalidParams, MethodNotFound, RpcError

logger = logging.getLogger(__name__)

Handler = Callable[..., Any]
# Checks a call's params and returns them complete and clean, or raises InvalidParams (the command schema's
# signature.clean for application methods); the handler is then called with exactly those keywords.
Validator = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Method:
    name: str
    handler: Handler
    main_thread: bool = True
    cancellable: bool = False
    description: str = ""
    validate: Validator | None = None
    summarize: Callable[[Any], Any] | None = None  # a batch step's compact result (its names), unless `full`
    # Makes that compact result itself, from the same params as ``handler``, so a batch does not build a full result
    # only for summarize to keep its name (a Blender ObjectInfo costs about half of what creating the cube does).
    compact: Handler | None = None
    batch: bool = True  # may be a step of batch.run (main-thread methods only)

    @functools.cached_property
    def signature(self) -> inspect.Signature:
        """Computed once: inspect.signature costs about as much as a small handler."""
        return inspect.signature(self.handler)

    @functools.cached_property
    def keyword_call(self) -> _KeywordCall | None:
        """How to check named params without Signature.bind, or None when the handler takes positional-only ones."""
        accepted: set[str] = set()
        required: set[str] = set()
        any_name = False
        for param in self.signature.parameters.values():
            if param.kind in (param.POSITIONAL_ONLY, param.VAR_POSITIONAL):
                return None
            if param.kind is param.VAR_KEYWORD:
                any_name = True
                continue
            accepted.add(param.name)
            if param.default is param.empty:
                required.add(param.name)
        return _KeywordCall(frozenset(accepted), frozenset(required), any_name)


@dataclass(frozen=True)
class _KeywordCall:
    accepted: frozenset[str]
    required: frozenset[str]
    any_name: bool  # the handler has **kwargs

    def fits(self, params: dict[str, Any]) -> bool:
        names = params.keys()
        return self.required <= names and (self.any_name or names <= self.accepted)


class Registry:
    """Method table of one host server.

    ``main_thread`` methods touch application data and run on the pump;
    the others run on the IO thread and must not touch bpy or FreeCAD.
    """

    def __init__(self) -> None:
        self._methods: dict[str, Method] = {}

    def add(
        self,
        name: str,
        handler: Handler,
        *,
        main_thread: bool = True,
        cancellable: bool = False,
        validate: Validator | None = None,
        description: str | None = None,
        summarize: Callable[[Any], Any] | None = None,
        batch: bool = True,
    ) -> None:
        summary = description if description is not None else (inspect.getdoc(handler) or "").split("\n", 1)[0]
        self._methods[name] = Method(
            name, handler, main_thread, cancellable, summary, validate, summarize, batch=batch and main_thread
        )

    def add_compact(self, name: str, handler: Handler) -> None:
        """Give ``name`` a handler for batch steps that want only the compact result: it takes the same params as
        the method's handler, does the same, and returns exactly what ``summarize`` would keep of its result."""
        method = self.get(name)
        if method.summarize is None:
            raise ValueError(f"{name} has no compact result to make")
        self._methods[name] = dataclasses.replace(method, compact=handler)

    def update(self, other: Registry) -> None:
        self._methods.update(other._methods)

    def get(self, name: str) -> Method:
        try:
            return self._methods[name]
        except KeyError:
            raise MethodNotFound(f"Method not found: {name}", {"method": name}) from None

    def __contains__(self, name: object) -> bool:
        return name in self._methods

    def __iter__(self) -> Iterator[Method]:
        return iter(self._methods.values())

    def names(self) -> list[str]:
        return sorted(self._methods)


def bind_params(method: Method, params: dict[str, Any]) -> inspect.BoundArguments:
    """Bind named params to the handler, turning a mismatch into InvalidParams."""
    try:
        return method.signature.bind(**params)
    except TypeError as exc:
        raise InvalidParams(f"{method.name}: {exc}", {"reason": str(exc)}) from None


def invoke(method: Method, params: dict[str, Any], *, checked: bool = False, compact: bool = False) -> Any:
    """Call a handler (its params validated first, unless already ``checked``); any exception that is not an
    RpcError becomes InternalError. ``compact`` calls the method's compact handler instead (see Method.compact)."""
    keyword_call = method.keyword_call
    args: tuple[Any, ...] = ()
    if checked:
        kwargs = params
    elif method.validate is not None:
        kwargs = method.validate(params)
    # Signature.bind costs about 20 µs, as much as a small handler: params that plainly fit are passed as they are,
    # and bind only runs to explain a mismatch (or for handlers with positional-only parameters).
    elif keyword_call is not None and keyword_call.fits(params):
        kwargs = params
    else:
        bound = bind_params(method, params)
        args, kwargs = bound.args, bound.kwargs
    handler = method.compact if compact and method.compact is not None else method.handler
    try:
        return handler(*args, **kwargs)
    except RpcError:
        raise
    except Exception as exc:
        logger.exception("handler %s raised", method.name)
        raise InternalError(
            f"{method.name} failed: {type(exc).__name__}: {exc}",
            {"type": type(exc).__name__, "traceback": traceback.format_exc()},
        ) from exc


MAX_BATCH_STEPS = 100_000


def run_batch(registry: Registry, steps: Any, full: bool = False) -> dict[str, Any]:
    """Invoke ``steps`` ([{"method", "params"}]) one after another, reporting each; stop at the first error.

    Every step's params are checked before the first one runs, so a batch with a wrong step runs nothing. It runs
    on the main thread as one job, so a batch of many small commands costs one queue hop instead of one per step.
    A step reports its compact result (the names it made) unless ``full``; a method with a compact handler makes
    that result directly instead of summarizing a full one.
    """
    if not isinstance(steps, list) or not steps:
        raise InvalidParams.for_field("steps", "must be a non-empty list of {method, params}")
    if len(steps) > MAX_BATCH_STEPS:
        raise InvalidParams.for_field("steps", f"must have at most {MAX_BATCH_STEPS} entries")
    if not isinstance(full, bool):
        raise InvalidParams.for_field("full", "must be true or false")
    checked: list[tuple[Method, dict[str, Any]]] = []
    for index, step in enumerate(steps):
        if not isinstance(step, dict) or not isinstance(step.get("method"), str):
            raise InvalidParams.for_field(f"steps[{index}]", "must be an object with a 'method' string")
        params = step.get("params", {})
        if not isinstance(params, dict):
            raise InvalidParams.for_field(f"steps[{index}].params", "must be an object")
        method = registry.get(step["method"]) if step["method"] in registry else None
        if method is None or not method.batch or method.name == "batch.run":
            raise InvalidParams.for_field(f"steps[{index}].method", f"{step['method']!r} cannot run in a batch")
        if method.validate is not None:
            try:
                params = method.validate(params)
            except InvalidParams as exc:
                data = exc.data if isinstance(exc.data, dict) else {}
                raise InvalidParams.for_field(
                    f"steps[{index}].params.{data.get('field', '')}".rstrip("."), str(data.get("reason", exc))
                ) from None
        checked.append((method, params))
    reports: list[dict[str, Any]] = []
    failed = False
    for index, (method, params) in enumerate(checked):
        if failed:
            reports.append({"index": index, "method": method.name, "status": "skipped"})
            continue
        try:
            compact = not full and method.compact is not None
            result = invoke(method, params, checked=method.validate is not None, compact=compact)
            if not full and not compact and method.summarize is not None:
                result = method.summarize(result)
            reports.append({"index": index, "method": method.name, "status": "success", "result": result})
        except RpcError as exc:
            failed = True
            reports.append({"index": index, "method": method.name, "status": "error", "error": exc.to_dict()})
    completed = sum(1 for report in reports if report["status"] == "success")
    return {"completed": completed, "failed": failed, "steps": reports}
