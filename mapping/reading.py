"""Reading the user's files without surprises: what every mapping-layer reader shares.

A settings file (calibration, mapping table, preset) is small JSON, so it is read whole,
but only from a regular file (opening a FIFO would wait forever), only up to a size cap,
and every way JSON can fail (bad UTF-8, bad syntax, nesting deep enough to exhaust the
recursion limit, a number too long for int()) becomes the caller's own error type.
"""

from __future__ import annotations

import json
import math
import os
import stat

from .errors import MappingError

MAX_JSON_BYTES = 16 * 1024 * 1024  # a mapping table of every channel to every bone is far smaller


def clip(text: str, limit: int = 40) -> str:
    """Text short enough for a message (a 5,000-digit field must not become the message),
    with control characters such as NUL shown as escapes."""
    shown = text if len(text) <= limit else text[:limit - 8]
    shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in shown)
    return shown if len(text) <= limit else f"{shown}... ({len(text)} characters)"


def check_regular_file(path: str | os.PathLike, what: str, error: type[MappingError]) -> None:
    """Raise `error` unless path is a regular file (it says what it is instead)."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise error(f"cannot read {what} '{path}': {exc.strerror or exc}") from None
    if stat.S_ISDIR(mode):
        raise error(f"cannot read {what} '{path}': it is a directory")
    if not stat.S_ISREG(mode):
        raise error(f"cannot read {what} '{path}': it is not a regular file")


def parse_json(text: str | bytes, what: str, error: type[MappingError]) -> object:
    """JSON text -> Python objects; anything malformed is `error` naming the problem."""
    try:
        return json.loads(text)
    except RecursionError:
        raise error(f"{what} is not usable JSON: nested too deeply") from None
    except UnicodeDecodeError:
        raise error(f"{what} is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise error(f"{what} is not valid JSON: {exc}") from None
    except ValueError as exc:  # e.g. an integer longer than int() converts
        raise error(f"{what} is not usable JSON: {clip(str(exc), 80)}") from None


def read_json_file(path: str | os.PathLike, what: str, error: type[MappingError]) -> object:
    """A small JSON file, read whole after the checks above."""
    check_regular_file(path, what, error)
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_JSON_BYTES + 1)
    except OSError as exc:
        raise error(f"cannot read {what} '{path}': {exc.strerror or exc}") from None
    if len(data) > MAX_JSON_BYTES:
        raise error(f"{what} '{path}' is larger than {MAX_JSON_BYTES // (1024 * 1024)} MB: not a {what} file")
    return parse_json(data, f"{what} '{os.path.basename(path)}'", error)


def number(value: object, what: str, error: type[MappingError], allow_none: bool = False) -> float | None:
    """A finite JSON number (not a bool, not a string) as float, else `error`."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise error(f"{what} must be a number, not {clip(repr(value))}")
    try:
        result = float(value)
    except OverflowError:  # an integer beyond float's range
        raise error(f"{what} is too large") from None
    if not math.isfinite(result):
        raise error(f"{what} must be a finite number")
    return result
