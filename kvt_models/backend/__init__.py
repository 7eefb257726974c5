"""The runtime of a run: choosing Keras's backend per process, TensorFlow's environment, the fused batch norm."""
