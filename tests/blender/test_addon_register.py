"""The add-on registers and unregisters cleanly, twice in a row, and its operators poll safely."""

from __future__ import annotations

import bpy

import face_mocap
from live_scene import disable_addon_entry, enable_addon_entry
from face_mocap.ui import live


def _leftovers() -> list[str]:
    found = [name for name in dir(bpy.types) if name.startswith("FACEMOCAP_")]
    found += [f"{owner.__name__}.face_mocap" for owner in (bpy.types.Scene, bpy.types.Object,
                                                           bpy.types.WindowManager)
              if hasattr(owner, "face_mocap")]
    if bpy.app.timers.is_registered(live.tick):
        found.append("timer")
    found += [h.__name__ for h in bpy.app.handlers.load_pre if "face_mocap" in getattr(h, "__module__", "")]
    return found


def test_register_unregister_twice_leaves_nothing_behind():
    bpy.ops.wm.read_factory_settings(use_empty=True)
    enable_addon_entry()
    try:
        for _ in range(2):
            face_mocap.register()
            assert bpy.context.scene.face_mocap.smoothing == "medium"
            assert hasattr(bpy.types, "FACEMOCAP_OT_start_capture")
            assert hasattr(bpy.types, "FACEMOCAP_PT_main")
            face_mocap.unregister()
            assert _leftovers() == []
    finally:
        disable_addon_entry()


def test_every_operator_polls_without_error_and_explains_why_it_is_disabled(addon):
    operators = [getattr(bpy.types, name) for name in dir(bpy.types)
                 if name.startswith("FACEMOCAP_OT_")]
    assert len(operators) >= 20
    for op in operators:
        module, name = op.bl_idname.split(".")
        assert module == "facemocap"
        getattr(getattr(bpy.ops, module), name).poll()  # must not raise
    # nothing selected and nothing running: these stay disabled
    assert not bpy.ops.facemocap.stop_capture.poll()
    assert not bpy.ops.facemocap.record.poll()
    assert not bpy.ops.facemocap.bake_take.poll()
    assert bpy.ops.facemocap.start_capture.poll()


def test_settings_are_saved_with_the_file(addon, tmp_path):
    settings = bpy.context.scene.face_mocap
    settings.smoothing = "strong"
    settings.camera_index = 2
    path = tmp_path / "saved.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.wm.open_mainfile(filepath=str(path))
    settings = bpy.context.scene.face_mocap
    assert (settings.smoothing, settings.camera_index) == ("strong", 2)


def test_operators_that_change_the_takes_list_can_be_undone(addon):
    """Stop Capture and Import Video list a new take: Ctrl+Z right after must undo just that."""
    for name in ("stop_capture", "stop_recording", "import_video", "bake_take", "take_refresh", "take_delete"):
        operator = getattr(bpy.types, f"FACEMOCAP_OT_{name}", None)
        assert operator is not None, name
        assert "UNDO" in operator.bl_options, f"{name} changes the takes list without an undo step"
