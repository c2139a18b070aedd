"""Bake Take and Retarget Take in steps, so that Esc can stop them and nothing is left half-made.

For each rig (BakeRun) the take is mapped first, in a worker thread that touches no bpy
(bake_take.TakeMapping: nothing in the file changes, and Blender stays responsive on a long
take), then the f-curves are written a slice at a time (bake.bake_steps), and last the
actions are placed on the rig. Bake Take bakes the scene's targets and every character of the
list (BakeBatch): all their f-curves are written before any action is placed, so Esc, or an
error on any rig, removes the actions made so far and the rows auto-detected for a Retarget,
and every rig is exactly as it was. A rig's mapped take is let go as its f-curves are written:
the batch holds one rig's at a time, however many characters there are. The modal operator
(operators_bake.py) hands each event to on_event(); scripts and `blender -b` run every step
at once.
"""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path

import bpy

from ..capture.takes import TakeError
from ..mapping.calibration import Calibration
from ..mapping.errors import MappingError
from . import bake, presets
from .bake_take import PreparedBake, TakeMapping, prepared_bake, take_mapping
from .i18n import rpt_

STEP_BUDGET_S = 0.05  # writing per timer event: short enough that Esc and the progress bar respond
MAPPING_SHARE = 0.5  # of a rig's progress bar: mapping and writing take about as long (BENCHMARKS.md)


class _MappingThread:
    """TakeMapping.run() in a worker thread; its result or error is taken on the main thread."""

    def __init__(self, mapping: TakeMapping) -> None:
        self.mapping, self._stop = mapping, threading.Event()
        self._outcome: tuple | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="face_mocap bake mapping", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._outcome = self.mapping.run(self._stop)
        except BaseException as exc:  # handed to the main thread by result()
            self._error = exc

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    def result(self) -> tuple:
        """The mapping's result (once done); its error is raised here."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        outcome, self._outcome = self._outcome, None  # the mapped take is the caller's to let go
        return outcome

    def stop(self) -> None:
        """Stop at the next piece of the take and wait for the thread to end."""
        self._stop.set()
        self._thread.join()


class BakeRun:
    """One bake onto a rig, in steps: write() a slice at a time, then place()."""

    def __init__(self, scene: bpy.types.Scene, take_path: Path, take_name: str, mesh, armature, *,
                 start_frame: int | None = None, detect_when_empty: bool = False, person: int = 1,
                 calibration: Calibration | None = None, label: str = "") -> None:
        self.scene, self.take_path, self.take_name = scene, take_path, take_name
        self.objects = [obj for obj in (mesh, armature) if obj is not None]
        self.mesh, self.armature = mesh, armature
        self.start_frame = start_frame
        self.detect_when_empty = detect_when_empty
        self.person, self.calibration = person, calibration  # whose frames; None: the scene's calibration
        self.label = label  # a character's name in messages ("": the scene's targets)
        self.fraction = 0.0
        self.detected_rows = 0
        self.result: bake.BakeResult | None = None
        self._job: PreparedBake | None = None
        self._mapping: _MappingThread | None = None
        self._steps = None
        self._presets_before: list[tuple[bpy.types.Object, str]] = []  # rows auto-detected here: (object, preset)

    def write(self, budget_s: float | None = None) -> bool:
        """The next slice of work: mapping the take (in a worker thread, or here when the budget
        is unlimited), then writing f-curves; True once every f-curve is written. The actions
        are not on the rig until place()."""
        budget_s = STEP_BUDGET_S if budget_s is None else budget_s
        try:
            if self._job is None:
                return self._map(wait=math.isinf(budget_s))
            deadline = time.monotonic() + budget_s
            while self.fraction < 1.0:  # bake_steps yields exactly 1.0 after the last f-curve
                self.fraction = next(self._steps)
                if time.monotonic() >= deadline:
                    break
            return self.fraction >= 1.0
        except BaseException:  # an error half-way: bake_steps removed its actions
            self._forget_detected_rows()
            raise

    @property
    def progress(self) -> float:
        """How far this rig's bake is, 0 to 1: the take mapped, then its f-curves written."""
        mapping = self._mapping.mapping if self._mapping is not None else None
        mapped = 1.0 if self._job is not None else (
            mapping.frames_read / max(mapping.info.frame_count, 1) if mapping is not None else 0.0)
        return MAPPING_SHARE * min(mapped, 1.0) + (1.0 - MAPPING_SHARE) * self.fraction

    def place(self) -> bake.BakeResult:
        """Put the written actions on the rig, or on its NLA: the short last step."""
        try:
            next(self._steps)
        except StopIteration as done:
            self.result = self._job.finish(done.value)
        self._steps = None
        return self.result

    def cancel(self) -> None:
        """Stop here and leave the rig as it was: no new action, no partial keys, no new rows."""
        if self._mapping is not None and self._job is None:
            self._mapping.stop()  # the mapping changed nothing in the file
        if self._steps is not None:
            self._steps.close()  # bake_steps removes every action it made
            self._steps = None
        self._forget_detected_rows()

    def _map(self, wait: bool) -> bool:
        """Start mapping the take (auto-detecting rows first for a Retarget), or take its result
        once the worker thread is done; then the f-curves can be written. Always False."""
        if self._mapping is None:
            if self.detect_when_empty and not any(len(obj.face_mocap.rows) for obj in self.objects):
                self._presets_before = [(obj, obj.face_mocap.preset) for obj in self.objects]
                self.detected_rows, _ = presets.auto_detect(self.scene, self.mesh, self.armature)
            mapping = take_mapping(self.scene, self.take_path, self.mesh, self.armature,
                                   calibration=self.calibration, person=self.person)
            if wait:  # scripts and `blender -b`: no thread to wait for
                self._prepared(mapping, mapping.run())
                return False
            self._mapping = _MappingThread(mapping)
        if wait or self._mapping.done:
            self._prepared(self._mapping.mapping, self._mapping.result())
        return False

    def _prepared(self, mapping: TakeMapping, mapped: tuple) -> None:
        self._job = prepared_bake(self.scene, mapping, self.take_name, mapped, start_frame=self.start_frame)
        self._steps = self._job.steps()

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


class BakeBatch:
    """Bakes onto several rigs, all or nothing (Bake Take: the scene's targets, then every
    character of the list): each rig's f-curves are written in turn, and the actions are placed
    on the rigs only once every rig's are written."""

    def __init__(self, runs: list[BakeRun]) -> None:
        self.runs = runs
        self.main = runs[0]  # the rig the operator was asked for: its frames place sound and reference
        self._current = 0

    @property
    def current(self) -> BakeRun:
        return self.runs[min(self._current, len(self.runs) - 1)]

    @property
    def fraction(self) -> float:
        return min(1.0, (self._current + self.current.progress) / len(self.runs))

    def step(self, budget_s: float | None = None) -> bool:
        """The next slice of the rig being written; True once every rig is baked."""
        run = self.current
        try:
            if run.write(budget_s):
                self._current += 1
            if self._current < len(self.runs):
                return False
            for run in self.runs:  # placing is quick and does not fail on a rig that was written
                run.place()
        except BaseException as exc:
            self.cancel()
            if run.label and isinstance(exc, (bake.BakeError, MappingError, TakeError)):
                raise bake.BakeError(rpt_("character '{name}': {error}").format(name=run.label, error=exc)) from exc
            raise
        return True

    def run_all(self) -> BakeRun:
        """Every step at once (scripts, background); the main rig's run."""
        while not self.step(math.inf):
            pass
        return self.main

    def cancel(self) -> None:
        """Every rig as it was: no new action, no partial keys, no new rows."""
        for run in self.runs:
            run.cancel()

    def report(self) -> str:
        """What the bake made, for the operator's report."""
        message = self.main.report()
        if more := [run.label for run in self.runs[1:]]:
            message += rpt_("; {count} more character(s): {names}").format(count=len(more), names=", ".join(more))
        return message


def on_event(run: BakeBatch, event_type: str) -> str:
    """One event of the modal Bake/Retarget: Esc cancels (nothing left behind), a timer event
    does the next slice. 'CANCELLED', 'FINISHED', or 'RUNNING' while there is more to do."""
    if event_type == "ESC":
        run.cancel()
        return "CANCELLED"
    if event_type == "TIMER" and run.step():
        return "FINISHED"
    return "RUNNING"
