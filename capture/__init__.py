"""The capture process: MediaPipe FaceLandmarker outside Blender, streaming face frames.

Runs in the capture interpreter as `python -m capture` (PYTHONPATH = add-on folder).
protocol.py, takes.py, errors.py and model.py import only the standard library and
numpy, so Blender-side code imports them too.
"""
