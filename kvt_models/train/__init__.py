"""One training run: its steps, the Keras callback, the input pipeline, evaluation, stop requests, the child process."""
