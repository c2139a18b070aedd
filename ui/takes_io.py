"""Where takes live on disk and how they are listed in the .blend (Scene.face_mocap.takes)."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import NamedTuple

import bpy

from ..capture.takes import (PARTIAL_SUFFIX, TAKE_SUFFIX, TakeError, TakeInfo, is_being_written, recover_take,
                             take_info)
from ..capture.timecode import take_start
from .bake import scene_fps
from .i18n import rpt_
from .preferences import ADDON_ID

TAKES_FOLDER = "face_mocap_takes"
MAX_NAME_BYTES = 100  # of a take's file name stem: with "_999.fmtake.partial" well inside every file system's 255
_RESERVED = re.compile(r"(CON|PRN|AUX|NUL|COM\d|LPT\d)(\..*)?", re.IGNORECASE)  # Windows device names


def user_data_dir(*parts: str) -> Path:
    """A folder in the user's extension data (or config) folder, never inside the add-on."""
    try:
        base = Path(bpy.utils.extension_path_user(ADDON_ID, create=True))
    except (ValueError, RuntimeError):  # registered as a plain module (scripts, tests)
        base = Path(bpy.utils.user_resource("CONFIG", path=ADDON_ID, create=True))
    folder = base.joinpath(*parts)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def takes_dir(create: bool = True) -> Path:
    """Next to the saved .blend; in the user's data folder while the file is unsaved."""
    if bpy.data.filepath:
        folder = Path(bpy.data.filepath).parent / TAKES_FOLDER
        if create:
            folder.mkdir(parents=True, exist_ok=True)
        return folder
    return user_data_dir("takes")


def safe_name(name: str) -> str:
    """A take name usable as a file name on every platform (at most MAX_NAME_BYTES in UTF-8)."""
    cleaned = re.sub(r"[^\w\- .]+", "_", name).strip(" .")
    cleaned = cleaned.encode("utf-8")[:MAX_NAME_BYTES].decode("utf-8", "ignore").rstrip(" .")
    if _RESERVED.fullmatch(cleaned):
        cleaned = f"_{cleaned}"
    return cleaned or "Take"


def take_stem(path: Path) -> str:
    """A take file's name without .fmtake or .fmtake.partial."""
    return path.name.removesuffix(PARTIAL_SUFFIX).removesuffix(TAKE_SUFFIX)


def new_take_path(name: str) -> Path:
    """A path for a new take that does not overwrite an existing one."""
    folder = takes_dir()
    base = safe_name(name)
    path = folder / f"{base}{TAKE_SUFFIX}"
    counter = 1
    while path.exists() or path.with_name(path.name + PARTIAL_SUFFIX).exists():
        counter += 1
        path = folder / f"{base}_{counter:03d}{TAKE_SUFFIX}"
    return path


def unique_take_name(scene: bpy.types.Scene, name: str) -> str:
    """A name not yet used in the scene's takes list (Take, Take.001, ...)."""
    names = {take.name for take in scene.face_mocap.takes}
    if name not in names:
        return name
    counter = 1
    while f"{name}.{counter:03d}" in names:
        counter += 1
    return f"{name}.{counter:03d}"


def take_metadata(scene: bpy.types.Scene, source: str, name: str, looped: bool = False) -> dict:
    """Metadata written into a take file's header; a video file played once also gives its
    absolute path (`source_path`: its sound and picture can be laid beside a bake)."""
    settings = scene.face_mocap
    played_once = not looped and not source.startswith("webcam:") and Path(source).is_file()
    return {
        "name": name,
        "source": source,
        **({"source_path": str(Path(source).absolute())} if played_once else {}),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "scene_fps": scene_fps(scene),
        "capture": {
            "num_faces": settings.num_faces,
            "mirror": settings.mirror,
            "min_face_detection_confidence": settings.min_face_detection_confidence,
            "min_face_presence_confidence": settings.min_face_presence_confidence,
            "min_tracking_confidence": settings.min_tracking_confidence,
        },
        "calibration": settings.calibration,
        "face_slots": settings.num_faces,  # every face in view, each with its person id (TAKES.md)
    }


def stored_path(path: Path, blend_path: str | None = None) -> str:
    """The path as stored in the .blend (blend_path, default the open file): relative (//)
    when the take lies in the .blend's folder or below, so the folder can move as a whole;
    absolute otherwise (the user data folder, or the old folder after a Save As elsewhere)."""
    blend_path = bpy.data.filepath if blend_path is None else blend_path
    if blend_path:
        folder = Path(blend_path).parent
        if Path(path).is_relative_to(folder):
            return bpy.path.relpath(str(path), start=str(folder))
    return str(path)


_saving: list[tuple[object, Path]] = []  # (take item, absolute path) while a save runs


def remap_for_save(blend_path: str) -> None:
    """Before saving to blend_path: store each take's path as seen from there, so a Save As to
    another folder keeps pointing at the same take files."""
    _saving.clear()
    for scene in bpy.data.scenes:
        for item in scene.face_mocap.takes:
            path = resolve(item)
            _saving.append((item, path))
            item.filepath = stored_path(path, blend_path)


def remap_after_save() -> None:
    """After saving: paths as seen from the open file again (it differs after Save Copy)."""
    for item, path in _saving:
        item.filepath = stored_path(path)
    _saving.clear()


def resolve(take) -> Path:
    """The absolute path of a listed take."""
    return Path(bpy.path.abspath(take.filepath))


def list_take(scene: bpy.types.Scene, path: Path, name: str = "") -> "bpy.types.PropertyGroup":
    """Add a take file to the scene's takes list (or refresh it if listed); return the item."""
    takes = scene.face_mocap.takes
    for item in takes:
        if resolve(item) == Path(path):
            refresh(item)
            return item
    item = takes.add()
    item.filepath = stored_path(Path(path))
    info = refresh(item)  # one read of the file's headers, for the list and for the name
    stored_name = info.metadata.get("name") if info is not None else None
    item.name = unique_take_name(scene, name or str(stored_name or take_stem(Path(path))))
    scene.face_mocap.active_take = len(takes) - 1
    return item


def refresh(item) -> TakeInfo | None:
    """A listed take's length, frame count, source and completeness from its chunk headers
    (the frames are not read); None, with the reason as its source, when the file is unreadable."""
    try:
        info = take_info(resolve(item))
    except TakeError as exc:
        item.complete = False
        item.frame_count, item.duration = 0, 0.0
        item.source, item.start_timecode = str(exc), ""
        return None
    item.frame_count = info.frame_count
    item.duration = info.duration_s
    source = info.metadata.get("source", "")
    item.source = Path(source).name or source
    start = take_start(info.metadata)
    item.start_timecode = str(start[0]) if start is not None else ""
    item.complete = info.complete
    return info


def active_take(scene: bpy.types.Scene):
    """The selected item of the takes list, or None."""
    settings = scene.face_mocap
    if 0 <= settings.active_take < len(settings.takes):
        return settings.takes[settings.active_take]
    return None


class RecoveryNote(NamedTuple):
    """What recovery did with one interrupted take, in words; `failed` notes are warnings."""

    text: str
    failed: bool = False


def recover_interrupted_takes(scene: bpy.types.Scene) -> list[RecoveryNote]:
    """Finish and list the recordings a crash interrupted in the takes folder; what was done.

    A .partial that a recording (here or in another Blender) is writing is left alone; one
    that cannot be recovered stays on disk and is listed as incomplete, so nothing is hidden."""
    folder = takes_dir(create=False)
    if not folder.is_dir():
        return []
    notes = []
    for partial in sorted(folder.glob(f"*{TAKE_SUFFIX}{PARTIAL_SUFFIX}")):
        if is_being_written(partial):
            continue
        try:
            recovered = recover_take(partial)
        except TakeError as exc:
            notes.append(RecoveryNote(f"Could not recover an interrupted take: {exc}", failed=True))
            list_take(scene, partial)
            continue
        item = _relist(scene, partial, recovered)
        text = rpt_("Recovered take '{take}' ({frames} frames) from an interrupted recording").format(
            take=item.name, frames=item.frame_count)
        left_out = _frames_left_out(recovered)
        if left_out:
            text += rpt_("; {frames} frames in damaged parts of the file were left out").format(frames=left_out)
        notes.append(RecoveryNote(text))
    return notes


def _frames_left_out(path: Path) -> int:
    """Frames of damaged chunks that recovery could not keep (the take's headers say)."""
    try:
        return int(take_info(path).metadata.get("frames_left_out", 0))
    except (TakeError, TypeError, ValueError):
        return 0


def _relist(scene: bpy.types.Scene, partial: Path, recovered: Path):
    """The list item of a recovered take: the one that listed its .partial, now pointing at the take."""
    for item in scene.face_mocap.takes:
        if resolve(item) == partial:
            item.filepath = stored_path(recovered)
            refresh(item)
            return item
    return list_take(scene, recovered)


def list_unlisted_takes(scene: bpy.types.Scene) -> int:
    """List the take files in the takes folder that the scene does not list yet; how many."""
    folder = takes_dir(create=False)
    if not folder.is_dir():
        return 0
    listed = {resolve(item) for item in scene.face_mocap.takes}
    found = [path for path in sorted(folder.glob(f"*{TAKE_SUFFIX}")) if path not in listed]
    for path in found:
        list_take(scene, path)
    return len(found)
