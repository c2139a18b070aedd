"""UI text with values in it goes through Blender's translation functions (ui/i18n.py) with
placeholders, so that a translation of the add-on could translate it.

bpy from PyPI ships no locales (Preferences > Interface > Language offers only Default), so no
translation can be switched on here and this is a check of the source: no f-string reaches a
report, a label, a button or the status bar in ui/."""

from __future__ import annotations

import ast
from pathlib import Path

import bpy

from face_mocap.ui import i18n

UI = Path(__file__).resolve().parents[2] / "ui"
# methods that show their text to the user, and where the text goes
SHOWN = {"report": None, "status_text_set": 0, "header_text_set": 0,
         "label": "text", "prop": "text", "operator": "text", "progress": "text", "menu": "text"}


def untranslatable_calls(source: str, path: str = "<test>") -> list[str]:
    """Calls that show an f-string with values to the user, as 'file:line method'."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in SHOWN):
            continue
        where = SHOWN[node.func.attr]
        if where is None:  # report(type, message)
            shown = node.args[1:2]
        elif isinstance(where, int):
            shown = node.args[where:where + 1]
        else:
            shown = [kw.value for kw in node.keywords if kw.arg == where]
            if any(kw.arg == "translate" for kw in node.keywords):
                continue  # already translated (iface_) or only numbers: Blender must not translate it again
        if any(isinstance(value, ast.JoinedStr) and any(isinstance(part, ast.FormattedValue) for part in value.values)
               for value in shown):
            found.append(f"{path}:{node.lineno} {node.func.attr}")
    return found


def test_no_f_string_is_shown_untranslated():
    offenders = [hit for path in sorted(UI.glob("*.py"))
                 for hit in untranslatable_calls(path.read_text(), path.name)]
    assert offenders == []


def test_the_check_catches_f_strings_shown_to_the_user():
    assert untranslatable_calls('self.report({"INFO"}, f"Baked {n} curves")') == ["<test>:1 report"]
    assert untranslatable_calls('row.label(text=f"{fps} fps")') == ["<test>:1 label"]
    assert untranslatable_calls('ws.status_text_set(f"Baking {pct}%")') == ["<test>:1 status_text_set"]
    assert untranslatable_calls('row.label(text=iface_("{fps} fps").format(fps=fps), translate=False)') == []
    assert untranslatable_calls('self.report({"INFO"}, rpt_("Baked {n} curves").format(n=n))') == []


def test_the_functions_are_blenders():
    assert i18n.iface_ is bpy.app.translations.pgettext_iface
    assert i18n.rpt_ is bpy.app.translations.pgettext_rpt
    # untranslated, a message id formats as the English text
    assert i18n.rpt_("Take saved: {take}").format(take="Take_001") == "Take saved: Take_001"
