"""Shared fixtures: the repository imported as package `face_mocap`, data and tool paths."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = Path(os.environ.get("FACE_MOCAP_SHARED", REPO_ROOT.parent / "shared"))
CACHE_DIR = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "face_mocap"
PACKAGE = "face_mocap"


def _import_repo_as_package() -> None:
    """Make `import face_mocap` load this checkout, as Blender loads the extension."""
    if PACKAGE in sys.modules:
        return
    spec = importlib.util.spec_from_file_location(
        PACKAGE, REPO_ROOT / "__init__.py", submodule_search_locations=[str(REPO_ROOT)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[PACKAGE] = module
    spec.loader.exec_module(module)


_import_repo_as_package()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    return SHARED_DIR


@pytest.fixture(scope="session")
def facedata() -> Path:
    return SHARED_DIR / "facedata"


@pytest.fixture(scope="session")
def interop() -> Path:
    return SHARED_DIR / "interop"


@pytest.fixture(scope="session")
def model_path() -> Path:
    path = Path(os.environ.get("FACE_MOCAP_MODEL", CACHE_DIR / "models" / "face_landmarker.task"))
    assert path.is_file(), f"model not provisioned at {path}: run `python3 tools/dev.py setup`"
    return path


@pytest.fixture(scope="session")
def capture_python() -> str:
    """The interpreter with mediapipe that runs the capture process."""
    path = os.environ.get("FACE_MOCAP_CAPTURE_PYTHON", str(CACHE_DIR / "venvs" / "capture" / "bin" / "python"))
    assert Path(path).exists(), f"capture interpreter missing at {path}: run `python3 tools/dev.py setup`"
    return path
