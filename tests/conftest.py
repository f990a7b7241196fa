import pathlib

import pytest

_FOLDER_MARKERS = {"unit": pytest.mark.unit, "integration": pytest.mark.integration, "e2e": pytest.mark.e2e}


def pytest_collection_modifyitems(items):
    """Mark each test by its folder, so `pytest -m unit` (or integration, e2e) selects a layer."""
    for item in items:
        parts = pathlib.Path(str(item.fspath)).parts
        for folder, marker in _FOLDER_MARKERS.items():
            if folder in parts:
                item.add_marker(marker)
