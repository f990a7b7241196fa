import pathlib

import pytest

TESTS = pathlib.Path(__file__).resolve().parent
# The first folder under tests/ names a test's layer; the demo's tests run its server and page as a user does.
_LAYERS = {"unit": "unit", "integration": "integration", "e2e": "e2e", "demo": "e2e"}


def pytest_collection_modifyitems(items):
    """Mark each test by its folder under tests/, so `pytest -m unit` (or integration, e2e) selects a layer.

    The path is taken relative to tests/, so a checkout under a folder named `e2e` (or `unit`) marks nothing.
    """
    for item in items:
        try:
            first = pathlib.Path(str(item.fspath)).resolve().relative_to(TESTS).parts[0]
        except ValueError:  # a test file outside tests/
            continue
        if first in _LAYERS:
            item.add_marker(getattr(pytest.mark, _LAYERS[first]))
