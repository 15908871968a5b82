"""Shared test configuration: hypothesis profiles.

``ci`` (the default) is derandomised, so every run tries the same examples, with a
bounded number of examples per property and no per-example deadline (a fit's time
varies with the machine's load).  ``dev`` explores new random examples each run:
``HYPOTHESIS_PROFILE=dev pytest tests/test_properties.py``.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    deadline=None,
    max_examples=25,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "dev",
    deadline=None,
    max_examples=100,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
