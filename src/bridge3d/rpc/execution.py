"""Running user code inside the host application (``code.execute``)."""

from __future__ import annotations

import contextlib
import io
import json
import traceback
from typing import Any

from .errors import InvalidParams, UserCodeError

USER_FILENAME = "<bridge3d>"
MAX_CAPTURE_CHARS = 1_000_000


def run_user_code(code: Any, namespace: dict[str, Any]) -> dict[str, Any]:
    """Execute ``code`` in ``namespace``; return stdout, stderr and ``result``.

    A syntax error or an exception raises UserCodeError whose data carries the
    traceback (user frames only) and what the code printed before it failed.
    """
    if not isinstance(code, str):
        raise InvalidParams.for_field("code", "must be a string of Python source")
    stdout, stderr = io.StringIO(), io.StringIO()
    try:
        compiled = compile(code, USER_FILENAME, "exec")
    except SyntaxError as exc:
        raise UserCodeError(
            f"SyntaxError: {exc.msg} (line {exc.lineno})",
            {
                "type": "SyntaxError",
                "traceback": "".join(traceback.format_exception_only(type(exc), exc)),
                "stdout": "",
                "stderr": "",
            },
        ) from None
    namespace.setdefault("__name__", "__bridge3d__")
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            exec(compiled, namespace)  # noqa: S102 - executing user code is this method's purpose
    except Exception as exc:  # noqa: BLE001 - any failure of user code is reported, not raised
        raise UserCodeError(
            f"{type(exc).__name__}: {exc}",
            {
                "type": type(exc).__name__,
                "traceback": _user_traceback(exc),
                "stdout": _clip(stdout.getvalue()),
                "stderr": _clip(stderr.getvalue()),
            },
        ) from None
    return {
        "stdout": _clip(stdout.getvalue()),
        "stderr": _clip(stderr.getvalue()),
        "result": jsonable(namespace.get("result")),
    }


def jsonable(value: Any) -> Any:
    """``value`` if it survives strict JSON, otherwise its repr()."""
    try:
        json.dumps(value, allow_nan=False)
        return value
    except (TypeError, ValueError):
        return repr(value)


def _user_traceback(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    user_frames = [f for f in frames if f.filename == USER_FILENAME] or frames
    start = frames.index(user_frames[0]) if user_frames else 0
    summary = traceback.StackSummary.from_list(frames[start:])
    return (
        "Traceback (most recent call last):\n"
        + "".join(summary.format())
        + "".join(traceback.format_exception_only(type(exc), exc))
    )


def _clip(text: str) -> str:
    if len(text) <= MAX_CAPTURE_CHARS:
        return text
    return text[:MAX_CAPTURE_CHARS] + f"\n... [{len(text) - MAX_CAPTURE_CHARS} characters cut]"
