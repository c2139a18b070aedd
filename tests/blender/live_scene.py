"""Helpers for the add-on tests: the add-on's preferences entry, the test rig, the capture timer."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import bpy

from face_mocap.mapping.channels import ARKIT_NAMES
from bake_scene import face_mesh, head_rig
from face_mocap.ui import live
from process_scan import process_gone, wait_for  # noqa: F401  (the live tests take them from here)

ADDON_ID = "face_mocap"


def enable_addon_entry() -> None:
    """What enabling the add-on in Preferences does besides register(): an entry for its preferences."""
    addons = bpy.context.preferences.addons
    if ADDON_ID not in addons:
        addons.new().module = ADDON_ID


def disable_addon_entry() -> None:
    addons = bpy.context.preferences.addons
    if ADDON_ID in addons:
        addons.remove(addons[ADDON_ID])


def make_rig(shapes=ARKIT_NAMES) -> tuple[bpy.types.Object, bpy.types.Object]:
    """The test character (mesh "Face" with ARKit-named shape keys, armature "Rig" with neck,
    head, jaw and eye bones), set as the scene's targets."""
    face, arm = face_mesh("Face", tuple(shapes)), head_rig("Rig")
    settings = bpy.context.scene.face_mocap
    settings.target_mesh, settings.target_armature = face, arm
    return face, arm


def use_video(path: Path | str, realtime: bool = True) -> None:
    """Set the scene's capture source to a video file."""
    settings = bpy.context.scene.face_mocap
    settings.source_type = "VIDEO"
    settings.video_path = str(path)
    settings.realtime = realtime


def run_timer_until(condition, timeout_s: float) -> bool:
    """Call the registered timer callback (bpy as a module has no event loop) until condition()."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        assert bpy.app.timers.is_registered(live.tick) or not live.is_running()
        if live.tick() is None and not condition():
            return condition()
        time.sleep(live.TICK_S)
    return condition()


class _Layout:
    """Stands in for a UILayout: records what a panel draws (bpy as a module draws nothing)."""

    def __init__(self, drawn: list) -> None:
        self.drawn = drawn

    def __getattr__(self, name):
        def call(*args, **kwargs):
            self.drawn.append((name, kwargs.get("text", args[0] if args else None)))
            return _Layout(self.drawn) if name in ("row", "column", "box") else SimpleNamespace()  # operator props
        return call


def draw_panel(panel_class) -> list:
    """What the panel's draw() puts on screen: (layout call, its text or first argument) in order."""
    drawn: list = []
    panel_class.draw(SimpleNamespace(layout=_Layout(drawn)), bpy.context)  # draw() reads only self.layout
    return drawn
