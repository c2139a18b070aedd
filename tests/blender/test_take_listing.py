"""Takes in real Blender: damaged files never stop the others from listing or recovering,
a kept .partial is listed as an incomplete take, long names are cut to fit, and a take
written before backward timestamps were dropped still bakes."""

from __future__ import annotations

import bpy
import numpy as np
import pytest

from bake_scene import curves_by_path, keys
from face_mocap.capture.protocol import BLENDSHAPE_NAMES
from face_mocap.capture.takes import Take, TakeWriter, empty_arrays, no_geometry, read_take, write_take
from face_mocap.ui import takes_io
from live_scene import make_rig
from take_corpus import crashed_partial, damaged_corpus, synthetic_arrays

GOOD, CRASHED = 20, 3


def good_take(path, name: str, frames: int = 30) -> None:
    write_take(path, Take(metadata={"format_version": 1, "name": name, "source": "webcam:0"},
                          **synthetic_arrays(0, frames)))


def test_refresh_lists_every_good_take_and_recovers_good_partials_around_damaged_files(addon):
    folder = takes_io.takes_dir()
    for n in range(GOOD):
        good_take(folder / f"Good {n:02d}.fmtake", f"Good {n:02d}")
    for n in range(CRASHED):
        crashed_partial(folder / f"Crashed {n}.fmtake", frames=40 + n, block=10)
    corpus = damaged_corpus()
    bad_partials = []
    for name, (data, expected) in corpus.items():
        (folder / f"bad {name}.fmtake").write_bytes(data)  # sorted between the good ones
        if expected == "error":  # unrecoverable: they must stay on disk
            partial = folder / f"bad {name} crashed.fmtake.partial"
            partial.write_bytes(data)
            bad_partials.append(partial)

    assert bpy.ops.facemocap.take_refresh() == {"FINISHED"}

    listed = {take.name: take for take in bpy.context.scene.face_mocap.takes}
    for n in range(GOOD):
        take = listed[f"Good {n:02d}"]
        assert (take.frame_count, take.complete) == (30, True), take.source
    for n in range(CRASHED):
        take = listed[f"Crashed {n}"]
        assert (take.frame_count, take.complete) == (40 + n, True), take.source
        assert read_take(takes_io.resolve(take)).metadata["recovered"]
        assert not (folder / f"Crashed {n}.fmtake.partial").exists()
    for partial in bad_partials:
        assert partial.exists(), f"{partial.name} was deleted"
    damaged = {takes_io.resolve(take).name: take for take in listed.values()
               if takes_io.resolve(take).name.startswith("bad ")}
    assert len(damaged) == len(corpus) + len(bad_partials)  # every file is listed, the damaged ones as such
    payload_only = "bad bit_flip_in_frames.fmtake"  # listing reads no frames, so it cannot see this damage
    assert [name for name, take in damaged.items() if take.complete] == [payload_only]


def test_a_kept_partial_is_listed_incomplete_then_recovered_in_place(addon):
    scene = bpy.context.scene
    writer = TakeWriter(takes_io.new_take_path("Kept"), {"name": "Kept", "source": "webcam:0"}, flush_interval_s=1e9)
    writer.append_arrays(synthetic_arrays(0, 174))
    writer.close()  # as after a write error: what is on disk stays
    item = takes_io.list_take(scene, writer.partial_path)
    assert (item.name, item.frame_count, item.complete) == ("Kept", 174, False)
    assert bpy.ops.facemocap.take_refresh() == {"FINISHED"}
    takes = scene.face_mocap.takes
    assert len(takes) == 1 and (takes[0].name, takes[0].frame_count, takes[0].complete) == ("Kept", 174, True)
    assert takes_io.resolve(takes[0]) == writer.path and not writer.partial_path.exists()


def test_a_300_character_take_name_is_cut_to_a_file_name_every_file_system_takes(addon):
    for name in ("x" * 300, "顔" * 300, "Take: " + "é" * 290):
        path = takes_io.new_take_path(name)
        assert len(takes_io.safe_name(name).encode()) <= takes_io.MAX_NAME_BYTES
        good_take(path, name, frames=3)
        item = takes_io.list_take(bpy.context.scene, path, name)
        assert item.complete and item.frame_count == 3
    assert takes_io.safe_name("CON") == "_CON" and takes_io.safe_name("nul.txt") == "_nul.txt"
    assert takes_io.safe_name(" ... ") == "Take" and "/" not in takes_io.safe_name("../..")


def test_operators_on_a_damaged_take_report_the_reason(addon):
    path = takes_io.takes_dir() / "Damaged.fmtake"
    path.write_bytes(damaged_corpus()["metadata_a_list"][0])
    item = takes_io.list_take(bpy.context.scene, path)
    assert not item.complete and "not a JSON object" in item.source
    with pytest.raises(RuntimeError, match="header is a list, not a JSON object") as info:
        bpy.ops.facemocap.calibrate_neutral(from_take=True, frame=0)
    assert "Traceback" not in str(info.value)


def test_a_take_with_timestamps_that_go_backwards_still_bakes(addon):
    face, _ = make_rig(shapes=("jawOpen",))
    assert bpy.ops.facemocap.auto_detect_mapping() == {"FINISHED"}
    arrays = empty_arrays(60)
    del arrays["landmarks"], arrays["transforms"]
    arrays["timestamps_us"] = np.arange(60) * 33_333
    arrays["timestamps_us"][30:33] -= 200_000  # a clock that stepped back, as older recordings could hold
    arrays["face_found"][:] = True
    arrays["blendshapes"][:] = 0.0
    arrays["blendshapes"][:, BLENDSHAPE_NAMES.index("jawOpen")] = np.linspace(0, 1, 60)
    path = takes_io.new_take_path("Old")
    write_take(path, Take(metadata={"face_geometry": False, "name": "Old"}, **arrays, **no_geometry(60)))
    takes_io.list_take(bpy.context.scene, path)
    assert bpy.ops.facemocap.bake_take() == {"FINISHED"}
    jaw = keys(curves_by_path(face.data.shape_keys)[('key_blocks["jawOpen"].value', 0)])
    assert len(jaw) >= 47 and np.all(np.diff(jaw[:, 0]) > 0)  # 2 s at the scene's 24 fps


def test_save_as_elsewhere_and_save_copy_keep_takes_found(addon, tmp_path):
    """Takes next to the .blend are stored relative (//face_mocap_takes/...); Save As into
    another folder must not leave them pointing at an empty folder there."""
    original = takes_io.new_take_path("Shot")
    good_take(original, "Shot")
    item = takes_io.list_take(bpy.context.scene, original)
    assert item.filepath.startswith("//"), item.filepath
    copy = tmp_path / "copies" / "copy.blend"
    copy.parent.mkdir()
    bpy.ops.wm.save_as_mainfile(filepath=str(copy), copy=True)
    assert takes_io.resolve(item) == original, "Save Copy changed the open file's take path"
    moved = tmp_path / "elsewhere" / "shot.blend"
    moved.parent.mkdir()
    bpy.ops.wm.save_as_mainfile(filepath=str(moved))
    assert takes_io.resolve(bpy.context.scene.face_mocap.takes[0]) == original
    for saved in (copy, moved):
        bpy.ops.wm.open_mainfile(filepath=str(saved))
        item = bpy.context.scene.face_mocap.takes[0]
        assert takes_io.resolve(item) == original, f"{saved.name} lost its take: {item.filepath}"
        takes_io.refresh(item)
        assert item.frame_count == 30 and item.complete
