"""Tools around the library: datasets, inspection (traces of every step), plot, interop (Keras and
PyTorch), the demo and the ``minirnn`` command line (``cli``). Not imported by ``import minirnn``."""
