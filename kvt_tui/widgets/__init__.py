"""The app's widgets, one per module (the screens are in :mod:`kvt_tui.screens`)."""
