"""tests/conftest.py marks each test by its first folder under tests/, wherever the checkout lies."""

import shutil
import subprocess
import sys
from pathlib import Path

CONFTEST = Path(__file__).parents[1] / "conftest.py"


def selected(root: Path, marker: str) -> list[str]:
    """The test ids `pytest -m marker --collect-only` selects in the checkout at root."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "-m", marker, "tests"],
        cwd=root, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode in (0, 5), done.stdout + done.stderr  # 5: nothing selected
    return sorted(line for line in done.stdout.splitlines() if "::" in line)


def test_layers_come_from_the_path_under_tests_not_from_folders_above_it(tmp_path):
    root = tmp_path / "e2e" / "unit" / "checkout"  # folders named like layers above the checkout
    for layer in ("unit", "integration", "e2e", "demo"):
        (root / "tests" / layer).mkdir(parents=True)
        (root / "tests" / layer / f"test_{layer}.py").write_text("def test_one():\n    pass\n")
    shutil.copy(CONFTEST, root / "tests" / "conftest.py")
    (root / "pytest.ini").write_text("[pytest]\nmarkers =\n    unit: u\n    integration: i\n    e2e: e\n")

    assert selected(root, "unit") == ["tests/unit/test_unit.py::test_one"]
    assert selected(root, "integration") == ["tests/integration/test_integration.py::test_one"]
    assert selected(root, "e2e") == ["tests/demo/test_demo.py::test_one", "tests/e2e/test_e2e.py::test_one"]
