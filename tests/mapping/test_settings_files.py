"""Damaged calibration, mapping-table and preset files: each is its own error type with a message.

Real files in tmp_path, including a directory and a FIFO where a file is expected.
"""

from __future__ import annotations

import json
import os

import pytest
from fifo_guard import call_beside_fifo

from face_mocap.mapping import autodetect
from face_mocap.mapping.calibration import Calibration
from face_mocap.mapping.errors import CalibrationError, RetargetError
from face_mocap.mapping.preset_files import list_user_presets
from face_mocap.mapping.retarget import MappingRow, MappingTable, Target

DEEP = "[" * 100_000 + "]" * 100_000  # past the recursion limit of json's decoder
BIG_INT = "9" * 5000  # past int()'s digit limit for str -> int
CAL = '{"format": "face_mocap.calibration", "version": 1'

CALIBRATIONS = {  # name: (file bytes, what the message must say)
    "deep nesting": (DEEP.encode(), "nested too deeply"),
    "deep nesting in a value": ((CAL + ', "channels": {"jawOpen": {"gain": ' + DEEP + "}}}").encode(),
                                "nested too deeply"),
    "5000-digit integer": ((CAL + ', "channels": {"jawOpen": {"gain": ' + BIG_INT + "}}}").encode(),
                           "not usable JSON"),
    "a list, not an object": (b"[1, 2, 3]", "not a Face Mocap calibration"),
    "channels is a list": ((CAL + ', "channels": [1, 2]}').encode(), "'channels' must map"),
    "a channel is a number": ((CAL + ', "channels": {"jawOpen": 3}}').encode(), "'channels' must map"),
    "gain is text": ((CAL + ', "channels": {"jawOpen": {"gain": "loud"}}}').encode(), "gain of 'jawOpen' must be a number"),
    "gain is true": ((CAL + ', "channels": {"jawOpen": {"gain": true}}}').encode(), "must be a number"),
    "gain beyond float": ((CAL + ', "channels": {"jawOpen": {"gain": 1e400}}}').encode(), "finite"),
    "range is a number": ((CAL + ', "channels": {"jawOpen": {"range": 5}}}').encode(), r"pair \[low, high\]"),
    "range of three": ((CAL + ', "channels": {"jawOpen": {"range": [0, 1, 2]}}}').encode(), "pair"),
    "rotation is text": ((CAL + ', "neutral_rotation": "identity"}').encode(), "finite 3x3"),
    "rotation with NaN": ((CAL + ', "neutral_rotation": [[NaN,0,0],[0,1,0],[0,0,1]]}').encode(), "finite 3x3"),
    "translation of two": ((CAL + ', "neutral_translation_cm": [1, 2]}').encode(), "finite 3 array"),
    "translation of objects": ((CAL + ', "neutral_translation_cm": [{}, {}, {}]}').encode(), "finite 3 array"),
    "version is huge": ((CAL.replace('"version": 1', '"version": 1e308') + "}").encode(), "not supported"),
    "not UTF-8": (b'{"format": "face_mocap.calibration\xff"}', "not UTF-8|not valid JSON"),
    "truncated": (CAL.encode(), "not valid JSON"),
    "empty": (b"", "not valid JSON"),
}


def test_calibration_path_that_is_a_directory_or_a_fifo(tmp_path):
    with pytest.raises(CalibrationError, match="is a directory"):
        Calibration.load(tmp_path)
    fifo = tmp_path / "calibration.json"
    os.mkfifo(fifo)
    error = call_beside_fifo(fifo, lambda: Calibration.load(fifo))
    assert isinstance(error, CalibrationError) and "not a regular file" in str(error), error


TABLE = '{"format": "face_mocap.mapping_table", "version": 1, "rows": '
TABLES = {
    "deep nesting": (DEEP.encode(), "nested too deeply"),
    "rows is a number": ((TABLE + "7}").encode(), "'rows' must be a list"),
    "a row is a list": ((TABLE + "[[1, 2]]}").encode(), "must be an object"),
    "factor is true": ((TABLE + '[{"source": "jawOpen", "kind": "shape_key", "target": "A", "factor": true}]}').encode(),
                       "malformed mapping row"),
    "factor of 400 digits": ((TABLE + '[{"source": "jawOpen", "kind": "shape_key", "target": "A", "factor": '
                              + "9" * 400 + "}]}").encode(), "malformed mapping row"),
    "factor is NaN": ((TABLE + '[{"source": "jawOpen", "kind": "shape_key", "target": "A", "factor": NaN}]}').encode(),
                      "not a finite number"),
    "no source": ((TABLE + '[{"kind": "shape_key", "target": "A"}]}').encode(), "malformed mapping row"),
    "unknown channel": ((TABLE + '[{"source": "nose", "kind": "shape_key", "target": "A"}]}').encode(),
                        "unknown source channel"),
    "5000-digit integer": ((TABLE + "[" + BIG_INT + "]}").encode(), "not usable JSON"),
    "binary": (bytes(range(256)) * 4, "not UTF-8|not valid JSON"),
}


READERS = {"calibration": (Calibration.load, CalibrationError, CALIBRATIONS),
           "mapping table": (MappingTable.load, RetargetError, TABLES)}


@pytest.mark.parametrize("kind, name", [(kind, name) for kind, (_, _, corpus) in READERS.items() for name in corpus])
def test_damaged_settings_file(tmp_path, kind, name):
    load, error, corpus = READERS[kind]
    data, match = corpus[name]
    path = tmp_path / "settings.json"
    path.write_bytes(data)
    with pytest.raises(error, match=match) as info:
        load(path)
    assert len(str(info.value)) < 300, str(info.value)[:400]
    if kind == "calibration" and b"\xff" not in data:
        with pytest.raises(error, match=match):  # the same from a string (the scene, a take's metadata)
            Calibration.from_json(data.decode("utf-8"))


PRESET = '{"format": "face_mocap.preset", "version": 1, "rows": '
PRESETS = {
    "deep nesting": (DEEP, "nested too deeply"),
    "rows is an object": (PRESET + "{}}", "not a Face Mocap preset"),
    "a row is text": (PRESET + '["jawOpen"]}', "row 1: not an object"),
    "unknown kind": (PRESET + '[{"source": "jawOpen", "kind": "morph"}]}', "row 1: unknown kind"),
    "unknown source": (PRESET + '[{"source": 12, "kind": "shape_key"}]}', "row 1: unknown source channel"),
    "bone row without axis": (PRESET + '[{"source": "headYaw", "kind": "bone_rotation", "target": "@head"}]}',
                              "needs an axis"),
    "bone row with a bad orient": (PRESET + '[{"source": "headYaw", "kind": "bone_rotation", "target": "@head", '
                                   '"axis": "Z", "orient": "sideways"}]}', "orient"),
    "factor is text": (PRESET + '[{"source": "jawOpen", "kind": "shape_key", "factor": "big"}]}',
                       "factor must be a number"),
    "min of 400 digits": (PRESET + '[{"source": "jawOpen", "kind": "shape_key", "min": ' + "9" * 400 + "}]}",
                          "min is too large"),
    "split is a number": (PRESET + '[{"source": "headYaw", "kind": "bone_rotation", "target": "@head", '
                          '"axis": "Z", "split": 3}]}', "split must be a group name"),
}


@pytest.mark.parametrize("name", list(PRESETS))
def test_damaged_preset_template(tmp_path, name):
    text, match = PRESETS[name]
    path = tmp_path / "template.json"
    path.write_text(text)
    with pytest.raises(RetargetError, match=match):
        autodetect.load_preset(path)


def test_shipped_presets_still_load():
    for name in autodetect.preset_names():
        assert autodetect.load_preset(name)["rows"]


def test_listing_user_presets_skips_bad_files_with_a_note(tmp_path):
    good = MappingTable([MappingRow("jawOpen", Target("shape_key", "JawOpen"))])
    good.save(tmp_path / "a_good.json")
    good.save(tmp_path / "z_good.json")
    (tmp_path / "deep.json").write_text(DEEP)
    (tmp_path / "garbage.json").write_bytes(b"\x00\xff" * 100)
    (tmp_path / "list.json").write_text(json.dumps([1, 2]))
    (tmp_path / "folder.json").mkdir()
    os.mkfifo(tmp_path / "pipe.json")
    (tmp_path / "notes.txt").write_text("not a preset name")
    listed = {}

    def listing():
        listed["result"] = list_user_presets(tmp_path)

    assert call_beside_fifo(tmp_path / "pipe.json", listing) is None
    paths, notes = listed["result"]
    assert [p.name for p in paths] == ["a_good.json", "z_good.json"]
    assert len(notes) == 5, notes
    by_file = {note.split()[1]: note for note in notes}
    assert "nested too deeply" in by_file["deep.json"]
    assert "is a directory" in by_file["folder.json"]
    assert "not a regular file" in by_file["pipe.json"]
    assert "not a Face Mocap mapping table" in by_file["list.json"]
    # a file that is repaired is listed again (the cache follows the file)
    good.save(tmp_path / "list.json")
    assert [p.name for p in list_user_presets(tmp_path)[0]] == ["a_good.json", "list.json", "z_good.json"]


def test_listing_a_folder_that_does_not_exist(tmp_path):
    assert list_user_presets(tmp_path / "missing") == ([], [])
