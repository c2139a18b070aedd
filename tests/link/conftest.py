"""link/ without Blender: the capture process, its socket and the take writer, in the capture
environment (no bpy installed there at all)."""

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
