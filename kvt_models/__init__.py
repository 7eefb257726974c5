"""kvt_models: the engine behind kvt, with no user-interface imports.

MiniVGGNet on CIFAR-10 in two flavours (strict Keras, and tf.keras with raw
TensorFlow ops inside), the data loaders, training with a listener, the run
store on disk, evaluation, plots and the headless ``kvt-train`` CLI.

Importing this package is cheap on purpose: TensorFlow and Keras are imported
only inside the functions that need them, because ``import tensorflow`` costs
about 5 s and 600 MB and the app must draw its first frame long before that.
"""

__version__ = "0.1.0"
