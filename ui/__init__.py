"""All bpy code of the add-on; this module only chains the modules' register/unregister."""

from __future__ import annotations

import bpy

from . import (child, demo_head, live, operators_capture, operators_mapping, operators_takes, panels, preferences,
               preview, properties, tracked_mesh)

# Order matters: property groups before the operators and panels that use them.
_modules = (
    properties,
    preferences,
    operators_capture,
    operators_takes,
    operators_mapping,
    demo_head,
    tracked_mesh,
    preview,
    panels,
)


@bpy.app.handlers.persistent
def _stop_before_load(*_args) -> None:
    """Loading another file while capturing or importing stops it (no orphan process)."""
    live.stop_quietly()
    child.stop_all()  # a running Import Video too
    preview.clear()
    runtime = getattr(bpy.context.window_manager, "face_mocap", None)  # the window manager outlives the file
    if runtime is not None:
        runtime.state, runtime.recording, runtime.importing, runtime.face_found = "idle", False, False, False


def register() -> None:
    for module in _modules:
        module.register()
    bpy.app.handlers.load_pre.append(_stop_before_load)


def unregister() -> None:
    if _stop_before_load in bpy.app.handlers.load_pre:
        bpy.app.handlers.load_pre.remove(_stop_before_load)
    live.stop_quietly()  # disabling the add-on while capturing stops the capture
    child.stop_all()
    for module in reversed(_modules):
        module.unregister()
