"""Bake speed: foreach_set bake vs a keyframe_insert loop, in the same run.

52 shape keys + 10 bones (5 quaternion, 5 XYZ Euler: 3 rotation axes each) over 10,000
frames, baked in full; then a keyframe_insert loop writes the same targets on slices of
frames onto fresh copies of the rig. Prints seconds and the per-key ratio per slice
(keyframe_insert gets slower per key as its curves grow, so the slice length matters).
Targets (issue 4): full bake <= 1 s; >= 100x faster per key than keyframe_insert.

    <blender env python> bench/bench_bake.py [--frames 10000] [--slices 200 1000]
"""

from __future__ import annotations

import argparse
import time

import bpy
import numpy as np
from mathutils import Euler

from addon import import_addon

FPS = 30
N_SHAPES, N_BONES = 52, 10


def build_character(suffix: str) -> tuple[bpy.types.Object, bpy.types.Object]:
    """A mesh with 52 shape keys and an armature with 10 bones."""
    mesh = bpy.data.meshes.new(f"Face{suffix}")
    mesh.from_pydata([(0, 0, 0), (1, 0, 0), (0, 1, 0)], [], [(0, 1, 2)])
    face = bpy.data.objects.new(f"Face{suffix}", mesh)
    bpy.context.scene.collection.objects.link(face)
    face.shape_key_add(name="Basis")
    for i in range(N_SHAPES):
        face.shape_key_add(name=f"shape{i:02d}")
    rig = bpy.data.objects.new(f"Rig{suffix}", bpy.data.armatures.new(f"Rig{suffix}"))
    bpy.context.scene.collection.objects.link(rig)
    bpy.context.view_layer.objects.active = rig
    bpy.ops.object.mode_set(mode="EDIT")
    for i in range(N_BONES):
        bone = rig.data.edit_bones.new(f"bone{i}")
        bone.head, bone.tail = (i, 0, 0), (i, 0, 1)
    bpy.ops.object.mode_set(mode="OBJECT")
    for i, bone in enumerate(rig.pose.bones):
        bone.rotation_mode = "QUATERNION" if i < N_BONES // 2 else "XYZ"
    return face, rig


def take_arrays(frames: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A smooth random take at the scene rate: times, shape values (F,52), bone Eulers (F,10,3)."""
    rng = np.random.default_rng(0)
    times = np.arange(frames) / FPS
    shapes = 0.5 + 0.5 * np.sin(times[:, None] * rng.uniform(0.5, 3.0, N_SHAPES) + np.arange(N_SHAPES))
    eulers = 0.3 * np.sin(times[:, None, None] * rng.uniform(0.2, 2.0, (N_BONES, 3)))
    return times, shapes, eulers


def target_values(face: bpy.types.Object, rig: bpy.types.Object, shapes: np.ndarray, eulers: np.ndarray) -> dict:
    """The take as the bake takes it: {Target: values}."""
    from face_mocap.mapping.retarget import Target  # the add-on is imported by main()

    values = {Target("shape_key", f"shape{i:02d}", owner=face.name): shapes[:, i] for i in range(N_SHAPES)}
    for i in range(N_BONES):
        for axis in range(3):
            values[Target("bone_rotation", f"bone{i}", axis, rig.name)] = eulers[:, i, axis]
    return values


def insert_loop(face: bpy.types.Object, rig: bpy.types.Object, shapes: np.ndarray, eulers: np.ndarray,
                frames: int) -> tuple[float, int]:
    """The slow way: set each value and keyframe_insert it, frame by frame."""
    blocks = [face.data.shape_keys.key_blocks[f"shape{i:02d}"] for i in range(N_SHAPES)]
    keys = 0
    started = time.perf_counter()
    for frame in range(frames):
        for block, value in zip(blocks, shapes[frame]):
            block.value = value
            block.keyframe_insert("value", frame=frame + 1)
            keys += 1
        for bone, euler in zip(rig.pose.bones, eulers[frame]):
            if bone.rotation_mode == "QUATERNION":
                bone.rotation_quaternion = Euler(euler).to_quaternion()
                bone.keyframe_insert("rotation_quaternion", frame=frame + 1)
                keys += 4
            else:
                bone.rotation_euler = euler
                bone.keyframe_insert("rotation_euler", frame=frame + 1)
                keys += 3
    return time.perf_counter() - started, keys


def time_bake(bake, shapes: np.ndarray, eulers: np.ndarray, times: np.ndarray, tolerance: float = 0.0):
    """(seconds, result) of one bake onto a fresh character in a fresh file."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    face, rig = build_character("Bake")
    values = target_values(face, rig, shapes, eulers)
    started = time.perf_counter()
    result = bake.bake_values(values, times, bake.BakeSettings(fps=FPS, name="Take", reduce_tolerance=tolerance))
    return time.perf_counter() - started, result


def time_insert_loop(shapes: np.ndarray, eulers: np.ndarray, frames: int) -> tuple[float, int]:
    """(seconds, keys) of a keyframe_insert loop onto a fresh character in a fresh file."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    face, rig = build_character("Insert")
    return insert_loop(face, rig, shapes, eulers, frames)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=10_000)
    parser.add_argument("--slices", type=int, nargs="+", default=[200, 1000],
                        help="keyframe_insert slice lengths: its cost per key grows with the curve's length")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians are reported")
    args = parser.parse_args()
    import_addon()
    from face_mocap.ui import bake
    times, shapes, eulers = take_arrays(args.frames)
    print(f"bpy {bpy.app.version_string}, numpy {np.__version__}, {args.rounds} rounds, medians")

    bake_runs, insert_runs = [], {length: [] for length in args.slices}
    for _round in range(args.rounds):
        seconds, full = time_bake(bake, shapes, eulers, times)
        bake_runs.append(seconds)
        for length in args.slices:
            insert_runs[length].append(time_insert_loop(shapes, eulers, min(length, args.frames)))
    bake_s = float(np.median(bake_runs))
    bake_per_key = bake_s / full.key_count
    print(f"full bake: {N_SHAPES} shape keys + {N_BONES} bones x {args.frames} frames: "
          f"{full.fcurve_count} f-curves, {full.key_count} keys in {bake_s:.3f} s "
          f"({bake_per_key * 1e9:.0f} ns/key)  target <= 1 s: {'ok' if bake_s <= 1.0 else 'MISSED'}")
    reduce_s, reduced = time_bake(bake, shapes, eulers, times, tolerance=1e-3)
    print(f"bake with key reduction (tolerance 0.001): {reduced.key_count} keys kept in {reduce_s:.3f} s")
    for length, runs in insert_runs.items():
        insert_s, insert_keys = float(np.median([s for s, _ in runs])), runs[0][1]
        insert_per_key = insert_s / insert_keys
        ratio = insert_per_key / bake_per_key
        print(f"keyframe_insert loop, {length} frames: {insert_keys} keys in {insert_s:.3f} s "
              f"({insert_per_key * 1e6:.1f} us/key) -> bake is {ratio:.0f}x faster per key  "
              f"target >= 100x: {'ok' if ratio >= 100 else 'MISSED'}")

if __name__ == "__main__":
    main()
