"""Video -> baked animation in real Blender: Import Video (the real capture processes) then Bake Take.

On the demo head (52 ARKit shape keys, head/neck/jaw/eye bones), the Pexels clip (472 frames)
and the same clip 10 times over (4,720 frames, made with OpenCV in a temporary folder, never
kept). Timed: the two operators, back to back, as a user runs them; fps = clip frames / both.
Each configuration in a fresh file; Import Processes 1 (one process, as before issue 12) and
0 (one per core), interleaved rounds, medians. Target (issue 12): >= 150 fps on 2 cores,
about the same fps at 1x and 10x (linear).

    <blender env python> bench/bench_video_to_bake.py [--rounds 3] [--repeats 1 10] [--processes 1 0]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import bpy

from addon import CAPTURE_PYTHON, CLIP, MODEL, REPO, import_addon, use_test_helpers


def fresh_scene(folder: Path, processes: int) -> None:
    """An empty file saved in `folder` (takes go next to it), the add-on on the capture env, the demo head."""
    import face_mocap
    from live_scene import ADDON_ID, enable_addon_entry

    bpy.ops.wm.read_factory_settings(use_empty=True)
    enable_addon_entry()
    face_mocap.register()
    prefs = bpy.context.preferences.addons[ADDON_ID].preferences
    prefs.interpreter, prefs.custom_python, prefs.model_path = "CUSTOM", CAPTURE_PYTHON, str(MODEL)
    prefs.import_processes = processes
    bpy.ops.wm.save_as_mainfile(filepath=str(folder / "bench.blend"))
    assert bpy.ops.facemocap.add_demo_head() == {"FINISHED"}


def video_to_bake(clip: Path, folder: Path, processes: int) -> tuple[float, float]:
    """(import seconds, bake seconds) of one run in a fresh file."""
    import face_mocap

    folder.mkdir()
    fresh_scene(folder, processes)
    try:
        started = time.perf_counter()
        assert bpy.ops.facemocap.import_video(filepath=str(clip)) == {"FINISHED"}
        imported = time.perf_counter()
        assert bpy.ops.facemocap.bake_take() == {"FINISHED"}
        return imported - started, time.perf_counter() - imported
    finally:
        face_mocap.unregister()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 0], help="Import Processes (0: one per core)")
    args = parser.parse_args()
    import_addon()
    use_test_helpers()
    print(f"load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} CPUs", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for repeats in args.repeats:
            clip = Path(tmp) / f"pexels_x{repeats}.mp4"
            made = subprocess.run([CAPTURE_PYTHON, str(REPO / "bench" / "clips.py"), str(CLIP), str(repeats),
                                   str(clip)], check=True, capture_output=True, text=True)
            frames = int(made.stdout.strip())
            clip = clip if repeats > 1 else CLIP
            times: dict[int, list[tuple[float, float]]] = {processes: [] for processes in args.processes}
            for round_ in range(args.rounds):
                for processes in times:
                    times[processes].append(video_to_bake(clip, Path(tmp) / f"x{repeats}_{processes}_{round_}",
                                                          processes))
            for processes, runs in times.items():
                total = statistics.median(i + b for i, b in runs)
                print(f"x{repeats} ({frames} frames), Import Processes {processes or 'all cores'}: "
                      f"{frames / total:.1f} fps video -> baked (import {statistics.median(i for i, _ in runs):.2f} s"
                      f" + bake {statistics.median(b for _, b in runs):.2f} s; rounds "
                      f"{[round(frames / (i + b), 1) for i, b in runs]})", flush=True)
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
