"""Blender-side memory of listing and baking takes of 1x, 10x and 100x the Pexels clip.

The Pexels clip tracked once by the real capture process (`python -m capture --out`), then
its frames repeated end to end through the take writer (timestamps and indices continued) for
the 10x and 100x takes, in a temporary folder (never kept). Each measurement runs in a fresh
Blender process (bpy) with the add-on registered and the test rig (52 ARKit shape keys, head,
neck, jaw and eye bones; 65 auto-detected targets): list the take (Refresh), then bake it.
"streamed" is Bake Take as it is (`ui.bake_take.bake_take`: the take read a few chunks at a time);
"whole" is the take read whole, then `map_take` and `bake_values` (the bake before).
Figures per process: tracemalloc peak (Python and numpy allocations) while listing and while
baking; RSS peak above the RSS before the step (Linux VmHWM, reset before each step); RSS the
bake keeps (the actions and their keys: Blender's own data, the same in both modes).

    <blender env python> bench/bench_bake_memory.py [--repeats 1 10 100] [--modes streamed whole]

`--repeats 212` is a take of 100,064 frames (69.6 minutes), the length people record.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from addon import CAPTURE_PYTHON, CLIP, MODEL, REPO, import_addon

MIB = 1024 * 1024


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def measured(step) -> dict:
    """Run step(); its tracemalloc peak, RSS peak above the start and RSS kept, in MiB, and seconds."""
    import tracemalloc

    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS (Linux 4.0+)
    before = _rss_kib("VmRSS")
    tracemalloc.start()
    started = time.perf_counter()
    try:
        step()
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return {"traced_peak": peak / MIB, "rss_peak": (_rss_kib("VmHWM") - before) / 1024,
            "rss_kept": (_rss_kib("VmRSS") - before) / 1024, "seconds": seconds}


def child(mode: str, take: Path) -> None:
    """One fresh Blender: list the take, then bake it (mode streamed or whole); print JSON."""
    import bpy

    from addon import rigged_scene

    with rigged_scene():
        from face_mocap.capture.takes import forward_only, read_take
        from face_mocap.mapping.pipeline import map_take
        from bake_scene import channelbag_fcurves
        from face_mocap.ui import bake, bake_take, mapping_tables, scene_settings, takes_io
        from live_scene import ADDON_ID

        bpy.context.preferences.addons[ADDON_ID].preferences.model_path = str(MODEL)
        scene = bpy.context.scene
        mesh, armature = scene.face_mocap.target_mesh, scene.face_mocap.target_armature
        scene_settings.canonical_face()  # read once before measuring (cached, as after a first bake)

        def bake_whole() -> None:
            whole, _ = forward_only(read_take(take))
            table = mapping_tables.character_table(mesh, armature)
            values = map_take(whole, table, scene_settings.scene_calibration(scene),
                              scene_settings.smoothing_settings(scene), face=scene_settings.canonical_face())
            bake.bake_values(values, whole.timestamps_us / 1e6,
                             bake.BakeSettings(fps=bake.scene_fps(scene), name="Take"))

        def bake_streamed() -> None:
            bake_take.bake_take(scene, take, mesh, armature, "Take", reduce_tolerance=0.0)

        listing = measured(lambda: takes_io.list_take(scene, take))
        baking = measured(bake_streamed if mode == "streamed" else bake_whole)
        keys = sum(len(fc.keyframe_points) for action in bpy.data.actions for fc in channelbag_fcurves(action))
    print(json.dumps({"listing": listing, "baking": baking, "keys": keys}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--modes", nargs="+", default=["streamed", "whole"], choices=["streamed", "whole"])
    parser.add_argument("--child", nargs=2, metavar=("MODE", "TAKE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    import_addon()
    sys.path[:0] = [str(REPO / "tests"), str(REPO / "tests" / "blender")]
    if args.child:
        child(args.child[0], Path(args.child[1]))
        return
    print(f"load average {os.getloadavg()[0]:.1f} (memory figures do not depend on it)", flush=True)
    from take_corpus import repeated_take

    with tempfile.TemporaryDirectory() as tmp:
        one = Path(tmp) / "pexels_x1.fmtake"
        _track(one)
        print("| take | frames | file MB | mode | list: traced peak MB | bake: traced peak MB | "
              "bake: RSS peak MB | RSS kept MB | keys | bake s |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for repeats in args.repeats:
            take = one if repeats == 1 else Path(tmp) / f"pexels_x{repeats}.fmtake"
            frames = repeated_take(one, repeats, take) if repeats > 1 else _frames(one)
            for mode in args.modes:
                out = subprocess.run([sys.executable, __file__, "--child", mode, str(take)], check=True,
                                     capture_output=True, text=True)
                got = json.loads(out.stdout.strip().splitlines()[-1])
                listing, baking = got["listing"], got["baking"]
                print(f"| x{repeats} | {frames:,} | {take.stat().st_size / 1e6:.0f} | {mode} | "
                      f"{listing['traced_peak']:.2f} | {baking['traced_peak']:.1f} | {baking['rss_peak']:.0f} | "
                      f"{baking['rss_kept']:.0f} | {got['keys']:,} | {baking['seconds']:.2f} |", flush=True)
            if repeats > 1:
                take.unlink()


def _frames(path: Path) -> int:
    from face_mocap.capture.takes import take_info

    return take_info(path).frame_count


def _track(out: Path) -> None:
    """The Pexels clip tracked into `out` by the real capture process, as Import Video runs it."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "FACE_MOCAP_MODEL": str(MODEL)}
    subprocess.run([CAPTURE_PYTHON, "-m", "capture", "--source", str(CLIP), "--out", str(out), "--progress", "jsonl"],
                   check=True, capture_output=True, env=env)


if __name__ == "__main__":
    main()
