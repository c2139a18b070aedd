"""The source video of a take beside its bake: its sound as a sequencer strip, its picture as a
reference, both where the take lies in the scene, to check lip-sync frame by frame.

Takes from a video file keep its absolute path (`source_path`); webcam and Live Link takes have
none and get nothing. Import Video lays the media out where a bake would start the take; a bake
lays them out again where it placed the keys (Start Frame, Current Frame or Timecode), replacing
the take's own strip and re-timing its own reference.

The picture is a Reference image object (as Add > Image > Reference makes) showing the movie,
beside the character and facing the active camera (or the front view). It shows in every
viewport in Solid mode, next to the face rather than behind it as a camera background would be,
and is never rendered. A movie shows one of its frames per scene frame, so it keeps step with
the keys only when the scene runs at the clip's frame rate; the sound keeps real time anyway.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import bpy
from mathutils import Matrix, Vector

from ..capture.takes import read_take, take_info
from ..mapping.keyframes import frame_count
from . import take_timing
from .bake import BakeError, scene_fps
from .nla import TAKE_KEY
from .sound_strip import Placement, place_sound

try:
    from bpy.app.translations import pgettext_rpt as rpt_
except ImportError:  # Blender 4.2
    from bpy.app.translations import pgettext_tip as rpt_

GAP = 0.1  # space between the character and its reference, in reference heights


@dataclass
class MediaNotes:
    """What laying out a take's media has to say: infos for the report, warnings on their own."""

    infos: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def after_bake(scene: bpy.types.Scene, take_path: Path, name: str, frame_range: tuple[float, float], *,
               sound: bool | None = None, reference: bool | None = None) -> MediaNotes:
    """Sound and reference of a baked take, at the bake's first and last key frames (sound,
    reference: as the scene's Add Sound and Reference Video when None)."""
    metadata = take_info(take_path).metadata
    return lay_out(scene, metadata, take_path, name, frame_range, sound, reference)


def after_import(scene: bpy.types.Scene, take_path: Path, name: str) -> MediaNotes:
    """Sound and reference of a newly imported take, where a bake would start it now (the
    Start Frame if it cannot start at its timecode)."""
    info = take_info(take_path)
    if not _wanted(info.metadata, *_choices(scene, None, None)):
        return MediaNotes()
    try:
        first = take_timing.start_frame(scene, info.metadata, name)
    except BakeError:
        first = float(scene.face_mocap.bake_start_frame)
    last = first + frame_count(info.duration_s, scene_fps(scene)) - 1
    return lay_out(scene, info.metadata, take_path, name, (first, last))


def source_video(metadata: dict) -> Path | None:
    """The take's source video file, or None when it was not recorded from one."""
    path = metadata.get("source_path")
    return Path(path) if isinstance(path, str) and path else None


def _choices(scene: bpy.types.Scene, sound: bool | None, reference: bool | None) -> tuple[bool, bool]:
    """(sound, reference): as given, else as the scene's settings say."""
    settings = scene.face_mocap
    return (settings.add_sound if sound is None else sound,
            settings.reference_video if reference is None else reference)


def _wanted(metadata: dict, sound: bool, reference: bool) -> bool:
    return source_video(metadata) is not None and (sound or reference)


def lay_out(scene: bpy.types.Scene, metadata: dict, take_path: Path, name: str, frame_range: tuple[float, float],
            sound: bool | None = None, reference: bool | None = None) -> MediaNotes:
    """Add or replace the take's sound strip and reference (sound, reference: as the scene's
    settings say when None)."""
    notes = MediaNotes()
    sound, reference = _choices(scene, sound, reference)
    if not _wanted(metadata, sound, reference):
        return notes
    video = source_video(metadata)
    if not video.is_file():
        notes.warnings.append(rpt_("Source video '{}' of take '{}' not found: no sound or reference added")
                              .format(str(video), name))
        return notes
    placement = Placement(*frame_range, video_time_s=_first_timestamp_s(take_path))
    try:
        if sound:
            note = place_sound(scene, video, name, placement, scene_fps(scene))
            notes.infos.append(note or rpt_("sound on the Video Sequencer"))
        if reference:
            notes.infos.append(show_reference(scene, video, name, placement))
    except RuntimeError as exc:  # Blender could not read the file after all
        notes.warnings.append(rpt_("Source video '{}': {}").format(str(video), str(exc).strip()))
    return notes


def _first_timestamp_s(take_path: Path) -> float:
    """The source's time of the take's first frame (reads only the first chunk)."""
    take = read_take(take_path, 0, 1)
    return float(take.timestamps_us[0]) / 1e6 if take.frame_count else 0.0


def show_reference(scene: bpy.types.Scene, video: Path, name: str, placement: Placement) -> str:
    """The take's reference object showing the video, its first frame on the take's first key
    frame (made beside the character the first time, re-timed after that); a note for the report."""
    image = bpy.data.images.load(str(video), check_existing=True)
    rate = _movie_rate(video)
    obj = next((o for o in scene.objects if o.get(TAKE_KEY) == name and o.empty_display_type == "IMAGE"), None)
    if obj is None:
        obj = _new_reference(scene, name, image)
    obj.data = image
    user = obj.image_user
    user.frame_duration = max(image.frame_duration, 1)
    user.frame_offset = 0
    user.frame_start = round(placement.first) - round(placement.video_time_s * rate)
    user.use_auto_refresh = True
    fps = scene_fps(scene)
    if rate > 0.0 and not math.isclose(rate, fps, rel_tol=1e-3):
        return rpt_("reference '{}': the clip runs at {:.3f} fps, the scene at {:.3f} fps, and the picture shows "
                    "one clip frame per scene frame (the sound keeps real time); set the scene's frame rate to the "
                    "clip's to check lip-sync frame by frame").format(obj.name, rate, fps)
    return rpt_("reference '{}' beside the character").format(obj.name)


def _movie_rate(video: Path) -> float:
    """The frame rate Blender plays the video at (read through a movie clip, removed again)."""
    clip = bpy.data.movieclips.load(str(video))
    try:
        return float(clip.fps)
    finally:
        bpy.data.movieclips.remove(clip)


def _new_reference(scene: bpy.types.Scene, name: str, image: bpy.types.Image) -> bpy.types.Object:
    """A Reference image object beside the character, as tall as it, parallel to the active
    camera's view (or the front view), never rendered."""
    obj = bpy.data.objects.new(f"{name} Reference", None)
    obj[TAKE_KEY] = name
    obj.empty_display_type = "IMAGE"
    obj.empty_image_offset = (-0.5, -0.5)  # centred on the object
    obj.hide_render = True
    scene.collection.objects.link(obj)
    centre, size = _character_box(scene)
    width, height = (image.size[0] or 16, image.size[1] or 9)
    obj.empty_display_size = size.z * max(width, height) / height
    view = scene.camera.matrix_world.to_3x3().normalized() if scene.camera else Matrix.Rotation(math.pi / 2, 3, "X")
    right = view @ Vector((1.0, 0.0, 0.0))  # the view's right, in world space
    character_half_width = sum(abs(right[i]) * size[i] for i in range(3)) / 2
    reference_half_width = size.z * width / height / 2
    obj.location = centre + right * (character_half_width + size.z * GAP + reference_half_width)
    obj.rotation_euler = view.to_euler()
    return obj


def _character_box(scene: bpy.types.Scene) -> tuple[Vector, Vector]:
    """(centre, size) of the target mesh (else armature) in world space; a 1 m box at the origin without one."""
    settings = scene.face_mocap
    obj = settings.target_mesh or settings.target_armature
    if obj is None:
        return Vector((0.0, 0.0, 0.0)), Vector((1.0, 1.0, 1.0))
    corners = [obj.matrix_world @ Vector(corner) for corner in obj.bound_box]
    low = Vector(tuple(min(c[i] for c in corners) for i in range(3)))
    high = Vector(tuple(max(c[i] for c in corners) for i in range(3)))
    size = high - low
    return (low + high) / 2, Vector(tuple(max(s, 1e-3) for s in size))
