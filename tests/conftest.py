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


# Hypothesis: one deterministic profile for every property suite, so CI runs the same examples on
# every submission (derandomize: examples derived from each test's source; no example database).
# deadline=None because a 2-core CI machine shared with other jobs has unpredictable timing.
# Select another profile with HYPOTHESIS_PROFILE=name (e.g. a local "explore" profile).
try:
    import os as _os

    from hypothesis import HealthCheck as _HealthCheck
    from hypothesis import settings as _hyp_settings
except ImportError:  # the property suites import Hypothesis themselves and say what is missing
    pass
else:
    _hyp_settings.register_profile(
        "minirnn-ci", derandomize=True, database=None, deadline=None, max_examples=25, print_blob=True,
        suppress_health_check=[_HealthCheck.too_slow])
    _hyp_settings.register_profile("explore", deadline=None, max_examples=500)
    _hyp_settings.load_profile(_os.environ.get("HYPOTHESIS_PROFILE", "minirnn-ci"))
