"""kvt_tui: the Textual app ``kvt-tui``, a front end to kvt_models.

Every run trains in a child process of its own (:mod:`kvt_models.train.isolated`);
the app relays its events to the screen. Nothing heavy is imported here: the
app must draw its first frame in well under half a second, and TensorFlow
alone takes about five.
"""
