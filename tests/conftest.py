import warnings

import numpy as np
import pytest

from minirnn.losses import ShapeBroadcastWarning


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture
def quiet_broadcast():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ShapeBroadcastWarning)
        yield
