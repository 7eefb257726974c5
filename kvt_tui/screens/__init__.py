"""The app's screens, one per module.

- :mod:`.main`: :class:`~.main.MainScreen`, the form, the tabs and the progress
  strip, and the keys that act on them.
- :mod:`.run_control`: :class:`~.run_control.RunController`, the invisible
  widget the main screen composes: the workers that run the engine, and the
  handlers of the engine's messages.
- :mod:`.run`: a past run, reopened from disk.
- :mod:`.comparison`: a comparison's results.
- :mod:`.help` and :mod:`.confirm`: modal screens over the others.
"""
