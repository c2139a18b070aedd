"""Who is who, per frame: what following every person costs beside tracking the frame.

An import on several processes chooses the person ids again over the merged frames
(capture/take_people.py `retrack`, in the parent, one frame after the other); a live session
and a single-process import run the same tracker per frame. This times `retrack` over a block
of 2,048 frames with 2 and with 4 faces (landmarks of real size; the cost does not depend on
their values) against MediaPipe's bare decode + detect loop on the Pexels clip, same run.

    <capture env python> bench/bench_people.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
from addon import CLIP, MODEL, import_addon
from bench_capture import bare_loop_fps

FRAMES = 2048


def block(faces: int, seed: int = 0) -> dict[str, np.ndarray]:
    """FRAMES frames with `faces` people side by side, drifting a little, as a merged segment holds them."""
    from face_mocap.capture.takes import empty_arrays

    rng = np.random.default_rng(seed)
    arrays = empty_arrays(FRAMES, 0, faces)
    arrays["timestamps_us"] = np.arange(FRAMES, dtype=np.int64) * 40_000
    shape = rng.uniform(-0.04, 0.04, (478, 3)).astype(np.float32)
    for k in range(faces):
        centre = np.array([(k + 0.5) / faces, 0.5, 0.0], np.float32)
        drift = rng.normal(0, 0.001, (FRAMES, 1, 3)).cumsum(axis=0).astype(np.float32)
        landmarks = shape + centre + drift
        if k == 0:
            arrays["landmarks"], arrays["face_found"] = landmarks, np.ones(FRAMES, bool)
            arrays["blendshapes"][:], arrays["transforms"][:] = 0.1, np.eye(4)
        else:
            arrays["other_landmarks"][:, k - 1] = landmarks
            arrays["other_blendshapes"][:, k - 1], arrays["other_transforms"][:, k - 1] = 0.1, np.eye(4)
        arrays["person_ids"][:, k] = k
    return arrays


def retrack_fps(faces: int) -> float:
    from face_mocap.capture.face_choice import FaceTracker
    from face_mocap.capture.take_people import retrack

    arrays = block(faces)
    start = time.perf_counter()
    retrack(arrays, FaceTracker(), 1280, 720)
    return FRAMES / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    import_addon()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    rows: dict[str, list[float]] = {"retrack 2 faces": [], "retrack 4 faces": [], "MediaPipe bare loop": []}
    for _ in range(args.rounds):  # interleaved: load changes alike for all three
        rows["retrack 2 faces"].append(retrack_fps(2))
        rows["retrack 4 faces"].append(retrack_fps(4))
        rows["MediaPipe bare loop"].append(bare_loop_fps(CLIP, MODEL)[0])
    bare = statistics.median(rows["MediaPipe bare loop"])
    for name, values in rows.items():
        fps = statistics.median(values)
        print(f"{name:22s} {fps:9.0f} frames/s   {100 * bare / fps:6.2f}% of the time MediaPipe takes per frame")


if __name__ == "__main__":
    main()
