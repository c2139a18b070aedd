#!/usr/bin/env python3
"""The whole product, headless: Add Demo Head, Import Video, Bake, save, render, plot.

    ~/.cache/face_mocap/venvs/blender/bin/python tools/demo.py [--video CLIP] [--out out/demo] [--docs]

The Blender part of `python3 tools/dev.py demo`. Runs in the Blender environment (bpy from
PyPI + matplotlib); the add-on is this checkout, loaded as Blender loads an extension, and
the capture process is the capture environment's Python (FACE_MOCAP_CAPTURE_PYTHON). With
no --video it first makes the astronaut clip (known head roll) with `capture.synthetic`.
Writes face_mocap_demo.blend, contact_sheet.png, curves.png (and the plotted values as
curves.json) to --out; --docs also
copies the two pictures into docs/ for the README.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import bpy
import numpy as np

REPO = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "face_mocap"
PACKAGE = "face_mocap"
SHEET_FRAMES = 8  # tiles in the contact sheet (4 x 2)
TILE_PX = 240
CURVES = ("jawOpen", "eyeBlinkLeft", "eyeBlinkRight", "mouthSmileLeft", "browInnerUp")
GALLERY = ("jawOpen", "eyeBlinkLeft", "mouthSmileLeft", "mouthPucker", "browInnerUp", "cheekPuff",
           "mouthFunnel", "noseSneerLeft")  # a few of the demo head's 52 shape keys, for the README


def log(message: str) -> None:
    print(f"[demo] {message}", flush=True)


def capture_python() -> str:
    return os.environ.get("FACE_MOCAP_CAPTURE_PYTHON", str(CACHE / "venvs" / "capture" / "bin" / "python"))


def model_path() -> str:
    return os.environ.get("FACE_MOCAP_MODEL", str(CACHE / "models" / "face_landmarker.task"))


def make_astronaut_clip(out: Path) -> Path:
    """The default input: the astronaut clip from capture.synthetic, with known motion."""
    clip = out / "astronaut.mp4"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run([capture_python(), "-m", "capture.synthetic", str(clip)], check=True, cwd=REPO, env=env)
    return clip


def load_addon():
    """Import this checkout as package `face_mocap` and enable it, as Blender enables an extension."""
    spec = importlib.util.spec_from_file_location(PACKAGE, REPO / "__init__.py",
                                                  submodule_search_locations=[str(REPO)])
    addon = importlib.util.module_from_spec(spec)
    sys.modules[PACKAGE] = addon
    spec.loader.exec_module(addon)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    if PACKAGE not in bpy.context.preferences.addons:
        bpy.context.preferences.addons.new().module = PACKAGE
    addon.register()
    prefs = bpy.context.preferences.addons[PACKAGE].preferences
    prefs.interpreter, prefs.custom_python, prefs.model_path = "CUSTOM", capture_python(), model_path()
    return addon


def run_operator(name: str, **kwargs) -> None:
    """Call bpy.ops.facemocap.<name>; stop with its message if it does not finish."""
    try:
        result = getattr(bpy.ops.facemocap, name)(**kwargs)
    except RuntimeError as exc:  # the operator reported an error
        raise SystemExit(f"[demo] {name} failed: {exc}") from None
    if result != {"FINISHED"}:
        raise SystemExit(f"[demo] {name} did not finish ({sorted(result)}); see the messages above")


def add_camera_and_light(scene: bpy.types.Scene, target: bpy.types.Object) -> None:
    """A portrait camera a little to the side of the face, Workbench studio lighting."""
    from mathutils import Vector

    centre = target.matrix_world @ (sum((Vector(c) for c in target.bound_box), Vector()) / 8.0)
    camera = bpy.data.objects.new("DemoCamera", bpy.data.cameras.new("DemoCamera"))
    scene.collection.objects.link(camera)
    camera.data.lens = 85
    camera.location = centre + Vector((0.2, -0.62, 0.05))
    camera.rotation_euler = (centre - camera.location).to_track_quat("-Z", "Y").to_euler()
    scene.camera = camera
    scene.render.engine = "BLENDER_WORKBENCH"
    scene.display.shading.light = "STUDIO"
    scene.display.shading.color_type = "MATERIAL"
    scene.display.shading.show_cavity = True
    scene.render.resolution_x = scene.render.resolution_y = TILE_PX
    scene.render.resolution_percentage = 100
    scene.render.film_transparent = False
    scene.render.image_settings.file_format = "PNG"


def render_shape_gallery(scene: bpy.types.Scene, face: bpy.types.Object, out_png: Path) -> None:
    """The rest pose, then single shape keys at 1.0 (animation muted), tiled like the contact sheet."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.image as mpimg
    import matplotlib.pyplot as plt

    keys = face.data.shape_keys
    muted = keys.animation_data is not None
    if muted:
        saved_action = keys.animation_data.action
        keys.animation_data.action = None
    fig, axes = plt.subplots(2, len(GALLERY) // 2, figsize=(len(GALLERY) / 2 * 2.4, 2 * 2.55), dpi=100)
    with tempfile.TemporaryDirectory() as tmp:
        for ax, name in zip(axes.ravel(), GALLERY):
            for block in keys.key_blocks:
                block.value = 1.0 if block.name == name else 0.0
            scene.render.filepath = str(Path(tmp) / f"{name}.png")
            bpy.ops.render.render(write_still=True)
            ax.imshow(mpimg.imread(scene.render.filepath))
            ax.set_title(name, fontsize=9)
            ax.axis("off")
    if muted:
        keys.animation_data.action = saved_action
    fig.suptitle("Some of the demo head's 52 ARKit shape keys", fontsize=11)
    fig.tight_layout()
    fig.savefig(out_png)
    plt.close(fig)


def set_frame_range_to_bake(scene: bpy.types.Scene, owners) -> None:
    """Play exactly the baked frames."""
    ranges = [owner.animation_data.action.frame_range for owner in owners
              if owner.animation_data and owner.animation_data.action]
    if ranges:
        scene.frame_start = int(math.floor(min(r[0] for r in ranges)))
        scene.frame_end = int(math.ceil(max(r[1] for r in ranges)))


def frames_to_show(scene: bpy.types.Scene, count: int) -> list[int]:
    return [int(round(f)) for f in np.linspace(scene.frame_start, scene.frame_end, count)]


def render_contact_sheet(scene: bpy.types.Scene, out_png: Path) -> None:
    """Render a few frames of the animated head (CPU, Workbench) and tile them into one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.image as mpimg
    import matplotlib.pyplot as plt

    frames = frames_to_show(scene, SHEET_FRAMES)
    fig, axes = plt.subplots(2, SHEET_FRAMES // 2, figsize=(SHEET_FRAMES / 2 * 2.4, 2 * 2.55), dpi=100)
    with tempfile.TemporaryDirectory() as tmp:
        for ax, frame in zip(axes.ravel(), frames):
            scene.frame_set(frame)
            scene.render.filepath = str(Path(tmp) / f"frame_{frame:04d}.png")
            bpy.ops.render.render(write_still=True)
            ax.imshow(mpimg.imread(scene.render.filepath))
            ax.set_title(f"frame {frame}", fontsize=9)
            ax.axis("off")
    fig.suptitle("Face Mocap demo head, baked from the video", fontsize=11)
    fig.tight_layout()
    fig.savefig(out_png)
    plt.close(fig)


def sample_curves(scene: bpy.types.Scene, rig: bpy.types.Object, face: bpy.types.Object) -> dict:
    """Evaluate the baked animation at every frame: head rotation (deg, armature axes) and shape keys."""
    frames = np.arange(scene.frame_start, scene.frame_end + 1)
    head = rig.pose.bones["head"]
    rest = head.bone.matrix_local.to_3x3().inverted()
    rotation, shapes = [], {name: [] for name in CURVES}
    for frame in frames:
        scene.frame_set(int(frame))
        euler = (head.matrix.to_3x3() @ rest).to_euler("XYZ")  # neck and head together
        rotation.append([math.degrees(a) for a in euler])
        for name in CURVES:
            shapes[name].append(face.data.shape_keys.key_blocks[name].value)
    fps = scene.render.fps / scene.render.fps_base
    return {"time": (frames - frames[0]) / fps, "rotation": np.array(rotation),
            "shapes": {k: np.array(v) for k, v in shapes.items()}}


def plot_curves(curves: dict, truth_json: Path | None, out_png: Path) -> None:
    """Two panels: the baked head rotation (with the clip's true roll when known) and blendshapes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 5.6), dpi=100, sharex=True)
    t = curves["time"]
    for k, label in enumerate(("pitch (X)", "roll (Y)", "yaw (Z)")):
        top.plot(t, curves["rotation"][:, k], label=f"head {label}")
    if truth_json is not None and truth_json.is_file():
        truth = json.loads(truth_json.read_text())
        # The photo turns counter-clockwise on screen: the head tilts towards its right shoulder (roll < 0).
        times = [f["time_s"] for f in truth["frames"]]
        top.plot(times, [-f["roll_deg"] for f in truth["frames"]], "k--", lw=1, label="true roll of the clip")
    top.set_ylabel("degrees")
    top.set_title("Baked head rotation (armature axes)")
    top.legend(fontsize=8, ncol=2)
    top.grid(alpha=0.3)
    for name, values in curves["shapes"].items():
        bottom.plot(t, values, label=name)
    bottom.set_ylim(-0.02, 1.02)
    bottom.set_xlabel("seconds")
    bottom.set_ylabel("shape key value")
    bottom.set_title("Baked blendshapes")
    bottom.legend(fontsize=8, ncol=3)
    bottom.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out_png)
    plt.close(fig)


def run(video: Path | None, out: Path, docs: bool) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    if video is None:
        log("making the astronaut clip (known head roll)")
        video = make_astronaut_clip(out)
    addon = load_addon()
    try:
        return _run_steps(video, out, docs)
    finally:
        addon.unregister()  # bpy 4.2 crashes at exit while an add-on's classes are still registered


def _run_steps(video: Path, out: Path, docs: bool) -> dict[str, Path]:
    scene = bpy.context.scene
    blend = out / "face_mocap_demo.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))  # takes are written next to the file
    log("Add Demo Head")
    run_operator("add_demo_head")
    face, rig = scene.face_mocap.target_mesh, scene.face_mocap.target_armature
    log(f"Import Video {video}")
    run_operator("import_video", filepath=str(video))
    log("Bake")
    run_operator("bake_take")
    set_frame_range_to_bake(scene, (face.data.shape_keys, rig))
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    add_camera_and_light(scene, face)
    outputs = {"blend": blend, "contact_sheet": out / "contact_sheet.png", "curves": out / "curves.png",
               "curves_data": out / "curves.json"}
    log(f"rendering {SHEET_FRAMES} frames ({TILE_PX} px, Workbench)")
    render_contact_sheet(scene, outputs["contact_sheet"])
    curves = sample_curves(scene, rig, face)
    plot_curves(curves, video.with_suffix(".json"), outputs["curves"])
    outputs["curves_data"].write_text(json.dumps({
        "time_s": curves["time"].round(4).tolist(),
        "head_rotation_deg_xyz": curves["rotation"].round(3).tolist(),
        "shape_keys": {k: v.round(4).tolist() for k, v in curves["shapes"].items()}}))
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    if docs:
        (REPO / "docs").mkdir(exist_ok=True)
        scene.frame_set(scene.frame_start)
        rig.animation_data.action = None  # the rest pose, for the shape gallery
        render_shape_gallery(scene, face, REPO / "docs" / "demo_head_shapes.png")
        shutil.copyfile(outputs["contact_sheet"], REPO / "docs" / "demo_contact_sheet.png")
        shutil.copyfile(outputs["curves"], REPO / "docs" / "demo_curves.png")
    return outputs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", type=Path, help="a video of a face (default: the generated astronaut clip)")
    parser.add_argument("--out", type=Path, default=REPO / "out" / "demo", help="output folder")
    parser.add_argument("--docs", action="store_true", help="also copy the pictures into docs/ for the README")
    args = parser.parse_args(argv)
    outputs = run(args.video.resolve() if args.video else None, args.out.resolve(), args.docs)
    for what, path in outputs.items():
        print(f"{what}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
