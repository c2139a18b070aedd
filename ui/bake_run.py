"""Bake Take and Retarget Take in steps, so that Esc can stop them and nothing is left half-made.

The take is mapped first (bake_take.prepare_bake: nothing in the file changes), then the
f-curves are written a slice at a time (bake.bake_steps). Cancelling removes the actions made
so far and the rows auto-detected for a Retarget: the rig is exactly as it was. The modal
operator (operators_bake.py) hands each event to on_event(); scripts and `blender -b` run
every step at once.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import bpy

from . import bake, presets
from .bake_take import PreparedBake, prepare_bake
from .i18n import rpt_

STEP_BUDGET_S = 0.05  # writing per timer event: short enough that Esc and the progress bar respond


class BakeRun:
    """One bake onto a rig, in steps."""

    def __init__(self, scene: bpy.types.Scene, take_path: Path, take_name: str, mesh, armature, *,
                 start_frame: int | None = None, detect_when_empty: bool = False) -> None:
        self.scene, self.take_path, self.take_name = scene, take_path, take_name
        self.objects = [obj for obj in (mesh, armature) if obj is not None]
        self.mesh, self.armature = mesh, armature
        self.start_frame = start_frame
        self.detect_when_empty = detect_when_empty
        self.fraction = 0.0
        self.detected_rows = 0
        self.result: bake.BakeResult | None = None
        self._job: PreparedBake | None = None
        self._steps = None
        self._presets_before: list[tuple[bpy.types.Object, str]] = []  # rows auto-detected here: (object, preset)

    def step(self, budget_s: float | None = None) -> bool:
        """The next slice of work (the first maps the take); True once the bake is done."""
        budget_s = STEP_BUDGET_S if budget_s is None else budget_s
        try:
            if self._job is None:
                self._prepare()
                return False
            deadline = time.monotonic() + budget_s
            while True:
                self.fraction = next(self._steps)
                if time.monotonic() >= deadline:
                    return False
        except StopIteration as done:
            self.result = self._job.finish(done.value)
            self._steps = None
            return True
        except BaseException:  # an error half-way: bake_steps removed its actions
            self._forget_detected_rows()
            raise

    def run_all(self) -> bake.BakeResult:
        """Every step at once (scripts, background)."""
        while not self.step(math.inf):
            pass
        return self.result

    def cancel(self) -> None:
        """Stop here and leave the rig as it was: no new action, no partial keys, no new rows."""
        if self._steps is not None:
            self._steps.close()  # bake_steps removes every action it made
            self._steps = None
        self._forget_detected_rows()

    def _prepare(self) -> None:
        if self.detect_when_empty and not any(len(obj.face_mocap.rows) for obj in self.objects):
            self._presets_before = [(obj, obj.face_mocap.preset) for obj in self.objects]
            self.detected_rows, _ = presets.auto_detect(self.scene, self.mesh, self.armature)
        self._job = prepare_bake(self.scene, self.take_path, self.mesh, self.armature, self.take_name,
                                 start_frame=self.start_frame)
        self._steps = bake.bake_steps(self._job.values, self._job.times_s, self._job.settings)

    def _forget_detected_rows(self) -> None:
        for obj, preset in self._presets_before:
            try:
                obj.face_mocap.rows.clear()
                obj.face_mocap.active_row = 0
                obj.face_mocap.preset = preset
            except ReferenceError:  # deleted, or its file closed: nothing to take back
                pass
        self._presets_before = []

    def report(self) -> str:
        """What the finished bake made, for the operator's report."""
        result = self.result
        start, end = result.frame_range
        message = rpt_("Baked take '{take}': {actions} action(s), {curves} curves, frames {start:g}-{end:g}").format(
            take=self.take_name, actions=len(result.actions), curves=result.fcurve_count, start=start, end=end)
        if result.strips:
            message += rpt_("; on NLA tracks named '{take}'").format(take=self.take_name)
        if self.detected_rows:
            message += " " + rpt_("(mapping auto-detected: {rows} rows)").format(rows=self.detected_rows)
        if result.skipped:
            message += "; " + rpt_("skipped {count}: {first}").format(count=len(result.skipped),
                                                                     first="; ".join(result.skipped[:3]))
        return message


def on_event(run: BakeRun, event_type: str) -> str:
    """One event of the modal Bake/Retarget: Esc cancels (nothing left behind), a timer event
    does the next slice. 'CANCELLED', 'FINISHED', or 'RUNNING' while there is more to do."""
    if event_type == "ESC":
        run.cancel()
        return "CANCELLED"
    if event_type == "TIMER" and run.step():
        return "FINISHED"
    return "RUNNING"
