"""Training: losses, optimizers (and their learning-rate schedules), metrics and callbacks.

Each module is imported on its own (``from minirnn.training.losses import MeanSquaredError``);
``minirnn.model`` uses them all. Nothing here imports checking or tools.
"""
