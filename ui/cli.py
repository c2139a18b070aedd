"""`blender -b -c face_mocap bake ...`: batch work on Blender's extension command line.

Each clip (a video, which is tracked first, or a take file) is baked onto the rig of a shot
.blend and saved as `<out>/<clip>.blend`. A clip that fails is reported and the others go on;
a clip whose .blend exists is skipped, so a rerun finishes only what is missing. The exit
code is 1 when any clip failed.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import bpy

from ..capture.takes import TAKE_SUFFIX, TakeError, take_info
from ..mapping.errors import MappingError
from .bake import BakeError, objects_to_bake
from ..link.errors import SessionError

COMMAND = "face_mocap"
VIDEO_SUFFIXES = {".mp4", ".mov", ".avi", ".mkv", ".mpg", ".mpeg", ".webm", ".m4v"}
_FAILURES = (SessionError, BakeError, TakeError, MappingError, OSError, RuntimeError)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"blender -b -c {COMMAND}", description=__doc__.splitlines()[0])
    commands = p.add_subparsers(dest="command", required=True)
    bake = commands.add_parser("bake", help="track (videos) and bake clips onto a shot's rig, one .blend each")
    bake.add_argument("inputs", nargs="+", type=Path, help="videos, take files or folders of them")
    bake.add_argument("--shot", type=Path, required=True, help="the .blend with the character (and its mapping)")
    bake.add_argument("--out", type=Path, required=True, help="folder for <clip>.blend and tracked takes")
    bake.add_argument("--mesh", default="", help="mesh object (default: the shot's Face Mocap target)")
    bake.add_argument("--armature", default="", help="armature object (default: the shot's target)")
    bake.add_argument("--start-frame", type=int, help="frame of each clip's first key (default: the shot's)")
    bake.add_argument("--capture-python", default="", help="a Python with mediapipe (default: the preferences')")
    return p


def clips_in(inputs: list[Path]) -> list[Path]:
    """Videos and take files named or found (not recursively) in the folders given, sorted."""
    found: list[Path] = []
    for path in inputs:
        if path.is_dir():
            found += sorted(p for p in path.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES | {TAKE_SUFFIX})
        else:
            found.append(path)
    return found


def execute(argv: list[str]) -> int:
    """The command: returns the process exit code."""
    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:  # argparse has printed why
        return int(exc.code or 0)
    if not args.shot.is_file():
        print(f"error: shot file not found: {args.shot}")
        return 2
    if args.capture_python:
        _use_capture_python(args.capture_python)
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for clip in clips_in(args.inputs):
        started = time.monotonic()
        try:
            status = _bake_clip(clip, args)
        except _FAILURES as exc:
            status = f"FAILED: {exc}"
        rows.append((clip.name, status, time.monotonic() - started))
    _print_summary(rows)
    return 1 if any(status.startswith("FAILED") for _, status, _ in rows) else 0


def _bake_clip(clip: Path, args: argparse.Namespace) -> str:
    from .. import api

    result_blend = args.out / f"{clip.stem}.blend"
    if result_blend.exists():
        return "skipped (done before)"
    if not clip.is_file():
        raise OSError(f"no such file: {clip}")
    take = clip if clip.suffix == TAKE_SUFFIX else args.out / f"{clip.stem}{TAKE_SUFFIX}"
    if take is not clip and not _complete(take):
        api.track_video(clip, take)
    bpy.ops.wm.open_mainfile(filepath=str(args.shot))
    mesh, armature = _objects(args)
    if not any(obj.face_mocap.rows for obj in (mesh, armature) if obj is not None):
        api.auto_detect(mesh=mesh, armature=armature)
    result = api.bake(take, mesh=mesh, armature=armature, name=clip.stem, start_frame=args.start_frame)
    settings = bpy.context.scene.face_mocap  # the shot's Add Sound and Reference Video
    media = api.add_media(take, result.frame_range, name=clip.stem, sound=settings.add_sound,
                          reference=settings.reference_video)
    bpy.ops.wm.save_as_mainfile(filepath=str(result_blend))  # Blender writes it whole, then renames
    first, last = result.frame_range
    return "; ".join([f"baked {take_info(take).frame_count} frames to {first:g}-{last:g}", *media.infos,
                      *media.warnings])


def _complete(take: Path) -> bool:
    try:
        return take_info(take).complete
    except TakeError:
        return False


def _objects(args: argparse.Namespace) -> tuple:
    settings = bpy.context.scene.face_mocap
    found = objects_to_bake((args.mesh, args.armature), (settings.target_mesh, settings.target_armature))
    if not any(found):
        raise BakeError("the shot has no Face Mocap target: pass --mesh and/or --armature")
    return tuple(found)


def _use_capture_python(path: str) -> None:
    from .preferences import get_preferences

    prefs = get_preferences()
    if prefs is None:
        raise SystemExit("error: enable the add-on to use --capture-python")
    prefs.interpreter, prefs.custom_python = "CUSTOM", path


def _print_summary(rows: list[tuple[str, str, float]]) -> None:
    width = max([len(name) for name, _, _ in rows] + [4])
    print(f"{'clip':<{width}}  {'seconds':>7}  result")
    for name, status, seconds in rows:
        print(f"{name:<{width}}  {seconds:7.1f}  {status}")
    failed = sum(status.startswith("FAILED") for _, status, _ in rows)
    print(f"{len(rows)} clip(s), {failed} failed")


_handle = None


def register() -> None:
    global _handle
    if hasattr(bpy.utils, "register_cli_command"):  # Blender 4.2+
        _handle = bpy.utils.register_cli_command(COMMAND, execute)


def unregister() -> None:
    global _handle
    if _handle is not None:
        bpy.utils.unregister_cli_command(_handle)
        _handle = None
