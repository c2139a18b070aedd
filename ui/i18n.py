"""Blender's translation functions for UI text built at run time.

Static labels (`text="..."`, names, descriptions) are translated by Blender itself. Text with
values in it goes through these with placeholders, `iface_("Frames {first}-{last}").format(...)`,
so the message id a translator sees is the sentence, not one string per value.
"""

from __future__ import annotations

from bpy.app import translations

iface_ = translations.pgettext_iface  # labels, buttons, status text
rpt_ = getattr(translations, "pgettext_rpt", translations.pgettext_tip)  # operator reports
