"""The user's saved mapping tables (presets in their config folder), listed with bad files skipped.

One damaged or foreign file must not hide the others: each file is read with the same
reader Load Preset uses, and one that fails is left out of the list with a note saying
why. Results are kept per file until its size or modification time changes, because
Blender asks for the list every time the preset menu is drawn.
"""

from __future__ import annotations

from pathlib import Path

from .errors import RetargetError
from .retarget import MappingTable

_checked: dict[Path, tuple[tuple[int, int], str]] = {}  # path -> ((mtime_ns, size), problem or "")


def list_user_presets(folder: Path) -> tuple[list[Path], list[str]]:
    """(readable preset files, sorted; a note for each file skipped)."""
    try:
        paths = sorted(folder.glob("*.json"))
    except OSError as exc:
        return [], [f"cannot list presets in '{folder}': {exc.strerror or exc}"]
    good, notes = [], []
    for path in paths:
        problem = _problem(path)
        if problem:
            notes.append(f"preset {path.name} skipped: {problem}")
        else:
            good.append(path)
    return good, notes


def _problem(path: Path) -> str:
    try:
        stat = path.stat()  # stat never blocks, even on a FIFO; the reader refuses those
    except OSError as exc:
        return exc.strerror or str(exc)
    key = (stat.st_mtime_ns, stat.st_size)
    cached = _checked.get(path)
    if cached is not None and cached[0] == key:
        return cached[1]
    try:
        MappingTable.load(path)
        problem = ""
    except RetargetError as exc:
        problem = str(exc)
    _checked[path] = (key, problem)
    return problem
