"""A take's sound: the source video's audio as a sound strip in the Video Sequencer.

The strip plays in real time whatever the scene's frame rate, like the baked keys (which are
resampled onto scene frames by their timestamps), so sound and keys stay in step at any rate.
Its content starts where the video's time 0 falls, so the audio under the take's first frame is
the audio recorded with it; its handles are trimmed to the take's first and last key frames.
Sound strips start on whole frames: a take placed at a fractional frame (at its timecode) gets
its sound within half a frame (20 ms at 25 fps, well inside what lip-sync shows). A
strip is marked with its take (TAKE_KEY), and placing a take again replaces its own strip (on
the same channel) instead of stacking another. Blender 5.1+ names a strip's frames content_start,
left_handle and right_handle; 4.2-5.0 frame_start, frame_final_start and frame_final_end.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import bpy

from .nla import TAKE_KEY

try:
    from bpy.app.translations import pgettext_rpt as rpt_
except ImportError:  # Blender 4.2
    from bpy.app.translations import pgettext_tip as rpt_

# (new name, 4.2-5.0 name) of the strip properties used here
CONTENT_START = ("content_start", "frame_start")
LEFT = ("left_handle", "frame_final_start")
RIGHT = ("right_handle", "frame_final_end")
CONTENT_LENGTH = ("content_duration", "frame_duration")


@dataclass(frozen=True)
class Placement:
    """Where a take lies in the scene: its first and last key frames, and the time in its
    source video of its first frame (0 for an imported video; later for a live recording
    started while the video played)."""

    first: float
    last: float
    video_time_s: float = 0.0


def strips(scene: bpy.types.Scene):
    """The scene's top-level sequencer strips (`strips` in 5.x, `sequences` in 4.x)."""
    editor = scene.sequence_editor or scene.sequence_editor_create()
    return editor.strips if hasattr(editor, "strips") else editor.sequences


def frame(strip, names: tuple[str, str]) -> float:
    """A strip frame property by its 5.1+ name, else its older one."""
    return getattr(strip, names[0] if hasattr(strip, names[0]) else names[1])


def _set_frame(strip, names: tuple[str, str], value: float) -> None:
    setattr(strip, names[0] if hasattr(strip, names[0]) else names[1], value)


def take_sound_strips(scene: bpy.types.Scene, name: str) -> list:
    """The sound strips placed for take `name`."""
    if scene.sequence_editor is None:
        return []
    return [strip for strip in strips(scene) if strip.get(TAKE_KEY) == name]


def place_sound(scene: bpy.types.Scene, video: Path, name: str, placement: Placement, fps: float) -> str | None:
    """The video's audio as take `name`'s sound strip (replacing its earlier one); None when
    done, else a note saying why there is no strip (no audio track, a Blender without audio)."""
    if not bpy.app.build_options.audaspace:
        return rpt_("This Blender is built without audio: no sound strip for take '{}'").format(name)
    channel = _remove_earlier(scene, name)
    content_start = round(placement.first - placement.video_time_s * fps)  # a sound strip starts on a frame
    collection = strips(scene)
    strip = collection.new_sound(name, str(video), channel or 1, content_start)
    sound = strip.sound
    if sound is None or sound.samplerate <= 0:  # Blender reads no audio stream: a silent clip
        collection.remove(strip)
        _remove_unused(sound)
        return rpt_("'{}' has no sound: no sound strip for take '{}'").format(video.name, name)
    strip[TAKE_KEY] = name
    first = max(round(placement.first), content_start)
    content_end = content_start + frame(strip, CONTENT_LENGTH)
    _set_frame(strip, RIGHT, max(first + 1, min(content_end, round(placement.last) + 1)))
    _set_frame(strip, LEFT, first)
    if channel is None:
        strip.channel = _free_channel(scene, strip)
    return None


def _remove_earlier(scene: bpy.types.Scene, name: str) -> int | None:
    """Remove the take's earlier sound strips; the channel of the first, or None."""
    earlier = take_sound_strips(scene, name)
    channel = earlier[0].channel if earlier else None
    for strip in earlier:
        sound = strip.sound
        strips(scene).remove(strip)
        _remove_unused(sound)
    return channel


def _remove_unused(sound) -> None:
    if sound is not None and sound.users == 0:
        bpy.data.sounds.remove(sound)


def _free_channel(scene: bpy.types.Scene, strip) -> int:
    """The lowest channel where no other strip overlaps `strip`'s frames."""
    left, right = frame(strip, LEFT), frame(strip, RIGHT)
    taken = {other.channel for other in strips(scene)
             if other != strip and frame(other, LEFT) < right and left < frame(other, RIGHT)}
    return next(channel for channel in range(1, len(taken) + 2) if channel not in taken)
