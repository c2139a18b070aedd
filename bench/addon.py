"""Benchmarks' shared helpers: this checkout as package `face_mocap` (as tests/conftest.py does), the user cache."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# tools/dev.py keeps its environments and the model here
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "face_mocap"
MODEL = CACHE / "models" / "face_landmarker.task"


def import_addon() -> None:
    """Make `import face_mocap` load this checkout (run a bench as `python bench/<name>.py`)."""
    if "face_mocap" in sys.modules:
        return
    spec = importlib.util.spec_from_file_location("face_mocap", REPO / "__init__.py",
                                                  submodule_search_locations=[str(REPO)])
    module = importlib.util.module_from_spec(spec)
    sys.modules["face_mocap"] = module
    spec.loader.exec_module(module)
