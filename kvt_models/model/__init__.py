"""MiniVGGNet in the two frameworks, its registered layers, and the layer table the app shows."""
