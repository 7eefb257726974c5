"""kvt_tui: the Textual app ``kvt-tui`` that drives kvt_models in-process.

Nothing heavy is imported here: the app must draw its first frame in well
under half a second, and TensorFlow alone takes about five.
"""
