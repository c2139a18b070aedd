"""Mapping speed: per frame (live) and per take (bake), pose -> channels -> smooth -> retarget.

The table drives 52 shape keys and 10 bones (Rigify names: head, neck, jaw_master, eye.L/R,
lids, brows, lip corners). Landmarks are the canonical face from the real model, moved by
random head poses and projected with MediaPipe's camera, plus noise; the cost does not
depend on the values, and no MediaPipe is needed to run this.
Targets (issue 3): per frame median <= 0.5 ms; 10,000 frames <= 1 s.

    <blender env python> bench/bench_mapping.py [--frames 10000] [--model PATH]
"""

from __future__ import annotations

import argparse
import math
import os
import time

import numpy as np
from addon import MODEL, import_addon

BONES = ["head", "neck", "jaw_master", "eye.L", "eye.R", "lid.T.L.002", "lid.T.R.002",
         "brow.T.L.001", "brow.T.R.001", "lips.L"]


def synthetic_landmarks(face, n: int, width: int = 1280, height: int = 720, seed: int = 0) -> np.ndarray:
    """(n, 478, 3) normalised landmarks of the canonical face under random head poses."""
    from face_mocap.mapping.channels import matrix_from_euler_xyz

    rng = np.random.default_rng(seed)
    verts = np.concatenate([face.vertices, face.vertices[[159] * 5 + [386] * 5]])  # + 10 "iris" points
    rot = matrix_from_euler_xyz(rng.normal(0, 0.2, (n, 3)))
    pts = np.einsum("nij,kj->nki", rot, verts) + np.array([0.0, 0.0, -60.0]) + rng.normal(0, 2, (n, 1, 3))
    h = 2 * math.tan(math.radians(63) / 2)
    w = h * width / height
    z = -pts[..., 2]
    lm = np.empty_like(pts)
    lm[..., 0] = pts[..., 0] / z / w + 0.5
    lm[..., 1] = 0.5 - pts[..., 1] / z / h
    lm[..., 2] = (z - z.mean(axis=1, keepdims=True)) / 60.0 / w
    return lm + rng.normal(0, 1e-4, lm.shape)


def main() -> None:
    """Run both benchmarks and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=10000)
    parser.add_argument("--live-frames", type=int, help="frames for the per-frame run (default: up to 2000)")
    parser.add_argument("--model", default=os.environ.get("FACE_MOCAP_MODEL", str(MODEL)))
    args = parser.parse_args()
    args.live_frames = args.live_frames or min(2000, args.frames)
    if args.frames < 300 or not 100 <= args.live_frames <= args.frames:
        parser.error("needs --frames >= 300 (calibration) and 100 <= --live-frames <= --frames (replayed)")
    import_addon()
    from face_mocap.capture.takes import Take, empty_arrays
    from face_mocap.mapping.autodetect import auto_detect
    from face_mocap.mapping.canonical import load_canonical_face
    from face_mocap.mapping.calibration import capture_neutral, observe_ranges
    from face_mocap.mapping.channels import ARKIT_NAMES, compute_channels
    from face_mocap.mapping.pipeline import LivePipeline, map_take
    from face_mocap.mapping.pose import PoseSolver

    face = load_canonical_face(args.model)
    table, report = auto_detect(ARKIT_NAMES, BONES)
    shapes = sum(1 for t in table.targets if t.kind == "shape_key")
    bones = len({t.name for t in table.targets if t.kind.startswith("bone_")})
    print(f"table: {len(table)} rows -> {shapes} shape keys, {bones} bones, {len(table.targets)} targets; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")

    n = args.frames
    lm = synthetic_landmarks(face, n)
    blend = np.random.default_rng(1).uniform(0, 1, (n, 52)).astype(np.float32)
    stamps = np.arange(n) / 30.0

    # a full calibration, as after Calibrate Neutral and observing ranges
    pose = PoseSolver(face).solve(lm[:300], (1280, 720))
    raw = compute_channels(pose, blend[:300], face)
    cal = capture_neutral(pose.rows(slice(0, 30)), raw[:30])
    observe_ranges(cal, raw)
    live = LivePipeline(face, table, calibration=cal, smoothing="medium")
    times = []
    for i in range(args.live_frames):
        start = time.perf_counter()
        live.process_arrays(stamps[i], lm[i], blend[i], (1280, 720))
        times.append(time.perf_counter() - start)
    times = np.array(times[50:]) * 1000.0  # skip warm-up
    print(f"per frame (pose + channels + One Euro + retarget), {len(times)} frames: "
          f"median {np.median(times):.3f} ms, p95 {np.percentile(times, 95):.3f} ms "
          f"(target <= 0.5 ms: {0.5 / np.median(times):.1f}x headroom)")

    arrays = empty_arrays(n)
    arrays.update(timestamps_us=(stamps * 1e6).astype(np.int64), face_found=np.ones(n, bool),
                  landmarks=lm.astype(np.float32), blendshapes=blend)
    take = Take(metadata={"format_version": 1, "image_size": [1280, 720], "fps": 30.0}, **arrays)
    for label, zero in (("zero-phase", True), ("One Euro", False)):
        runs = []
        for _ in range(3):
            start = time.perf_counter()
            baked = map_take(take, table, cal, "medium", face=face, zero_phase_smoothing=zero)
            runs.append(time.perf_counter() - start)
        print(f"map_take {n} frames, {label} smoothing: best of 3 {min(runs):.3f} s "
              f"(target <= 1 s: {1.0 / min(runs):.1f}x headroom), {len(baked)} curves")


if __name__ == "__main__":
    main()
