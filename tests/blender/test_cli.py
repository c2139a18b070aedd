"""Blender's extension command line (`blender -b -c face_mocap bake ...`): called as Blender
calls it, with an argv list (bpy as a module has no `blender` executable)."""

from __future__ import annotations

import bpy

from bake_scene import curves_by_path, keys, set_fps
from face_mocap.ui import cli, sound_strip
from live_scene import make_rig

GRID = ("bbaf2n.mpg", "lwbsza.mpg", "swiz3n.mpg")  # 75 frames each at 25 fps


def test_the_bake_command_does_a_folder_reports_a_broken_clip_and_a_rerun_skips_what_is_done(
        addon, facedata, tmp_path, capsys, capture_python):
    set_fps(25)
    make_rig()
    assert bpy.ops.facemocap.auto_detect_mapping() == {"FINISHED"}
    shot = tmp_path / "shot.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(shot), copy=True)
    clips = tmp_path / "clips"
    clips.mkdir()
    for name in GRID:
        (clips / name).symlink_to(facedata / "grid" / name)
    (clips / "broken.mp4").write_text("not a video")
    out = tmp_path / "baked"
    argv = ["bake", str(clips), "--shot", str(shot), "--out", str(out), "--start-frame", "1001",
            "--capture-python", str(capture_python)]

    assert cli.execute(argv) == 1, "a failed clip makes the exit code non-zero"
    summary = capsys.readouterr().out
    assert "4 clip(s), 1 failed" in summary
    broken = next(line for line in summary.splitlines() if line.startswith("broken.mp4"))
    assert "FAILED" in broken and "cannot open video" in broken.lower(), broken
    for name in GRID:
        assert f"baked 75 frames to 1001-1075" in next(l for l in summary.splitlines() if l.startswith(name))
        assert (out / name.replace(".mpg", ".blend")).is_file()
    assert not (out / "broken.blend").exists()

    assert cli.execute(argv) == 1
    again = capsys.readouterr().out
    assert again.count("skipped (done before)") == 3

    bpy.ops.wm.open_mainfile(filepath=str(out / "lwbsza.blend"))
    jaw = keys(curves_by_path(bpy.data.objects["Face"].data.shape_keys)[('key_blocks["jawOpen"].value', 0)])
    assert jaw[0, 0] == 1001 and abs(len(jaw) - 75) <= 1 and jaw[:, 1].max() - jaw[:, 1].min() > 0.1
    strips = sound_strip.take_sound_strips(bpy.context.scene, "lwbsza")  # the clip's sound, for review
    if bpy.app.build_options.audaspace:
        assert len(strips) == 1 and sound_strip.frame(strips[0], sound_strip.LEFT) == 1001
        assert strips[0].sound.filepath.endswith("lwbsza.mpg")
    else:  # bpy 4.2 as a module has no audio: said so in the summary
        assert not strips and "built without audio" in summary


def test_the_command_is_registered_and_bad_arguments_are_a_usage_error(addon, tmp_path, capsys):
    assert cli._handle is not None, "register() registers the command with Blender"
    assert cli.execute(["bake", str(tmp_path), "--shot", str(tmp_path / "none.blend"), "--out", str(tmp_path)]) == 2
    assert "shot file not found" in capsys.readouterr().out
    assert cli.execute(["unknown"]) == 2
