"""All bpy code of the add-on; this module chains the modules' register/unregister and the file handlers."""

from __future__ import annotations

import logging

import bpy

from ..link import process
from . import (cli, demo_head, generate_shapes, keep_ready, live, operators_bake, operators_capture,
               operators_import, operators_mapping, operators_takes, panels, panels_calibration, panels_characters,
               panels_takes, preferences, preview, properties, takes_io, tracked_mesh)

log = logging.getLogger(__name__)

# Order matters: property groups before the operators and panels that use them.
_modules = (
    properties,
    preferences,
    operators_capture,
    operators_takes,
    operators_import,
    operators_bake,
    operators_mapping,
    demo_head,
    generate_shapes,
    tracked_mesh,
    preview,
    panels,
    panels_calibration,
    panels_takes,
    panels_characters,
    cli,
)


@bpy.app.handlers.persistent
def _stop_before_load(*_args) -> None:
    """Loading another file while capturing or importing stops it (no orphan process)."""
    live.stop_quietly()
    keep_ready.stop()  # the new file's panel starts one again
    process.stop_all()  # a running Import Video too
    preview.clear()
    runtime = getattr(bpy.context.window_manager, "face_mocap", None)  # the window manager outlives the file
    if runtime is not None:
        runtime.state, runtime.recording, runtime.importing, runtime.face_found = "idle", False, False, False


@bpy.app.handlers.persistent
def _recover_after_load(*_args) -> None:
    """Opening a file after a crash finishes and lists the take that was being recorded."""
    if not bpy.data.filepath:  # unsaved: its takes folder is shared by every unsaved session
        return
    runtime = bpy.context.window_manager.face_mocap
    for note in takes_io.recover_interrupted_takes(bpy.context.scene):
        log.log(logging.WARNING if note.failed else logging.INFO, note.text)
        if note.failed:
            runtime.last_error = note.text
        else:  # good news: shown as information, not as a red error
            runtime.last_note = note.text


@bpy.app.handlers.persistent
def _before_save(filepath: str = "", *_args) -> None:
    """The file stores the rig's own pose (not the live frame it shows) and take paths that
    still find the takes from where it is saved."""
    live.rest_rig_for_saving()
    takes_io.remap_for_save(filepath or bpy.data.filepath)


@bpy.app.handlers.persistent
def _after_save(*_args) -> None:
    takes_io.remap_after_save()


_handlers = ((bpy.app.handlers.load_pre, _stop_before_load), (bpy.app.handlers.load_post, _recover_after_load),
             (bpy.app.handlers.save_pre, _before_save), (bpy.app.handlers.save_post, _after_save))


def register() -> None:
    for module in _modules:
        module.register()
    for handlers, handler in _handlers:
        handlers.append(handler)


def unregister() -> None:
    for handlers, handler in _handlers:
        if handler in handlers:
            handlers.remove(handler)
    live.stop_quietly()  # disabling the add-on while capturing stops the capture
    keep_ready.stop()
    process.stop_all()
    for module in reversed(_modules):
        module.unregister()
