"""Blender <-> capture process: launching it, the local socket, the live session and Import Video.

No bpy here (tests/capture/test_layering.py checks it): ui/ drives these from Blender's main
thread, and tests/link runs them without Blender.
"""
