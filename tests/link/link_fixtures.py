"""Fixtures of tests/link (link/ without Blender: in the capture environment, where bpy is not
installed at all). Imported by the test modules, not a conftest.py: tests/capture's conftest is
imported by name, and two of them would collide when both folders run in one tier."""

from __future__ import annotations

import pytest

from face_mocap.link import process
from face_mocap.link.options import CaptureOptions


@pytest.fixture()
def options_for(repo_root, model_path, capture_python):
    """CaptureOptions for a source, as the add-on builds them (PYTHONPATH = the add-on folder)."""

    def make(source: str, **changes) -> CaptureOptions:
        env = {"FACE_MOCAP_MODEL": str(model_path), "PYTHONNOUSERSITE": "1"}
        fields = {"interpreter": capture_python, "python_path": [str(repo_root)], "env": env, **changes}
        return CaptureOptions(source=source, **fields)

    yield make
    process.stop_all(wait=True)  # nothing a test started outlives it
