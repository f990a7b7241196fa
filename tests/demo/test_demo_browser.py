"""The demo page in headless Chromium: solve a Sudoku, wait for the last frame, compare the grid with the API.

Needs Debian's chromium and chromium-driver (`.ci/run` installs them); elsewhere the test is skipped."""

import httpx
import pytest
import torch

from src.hrm.demo.app import create_app
from src.hrm.demo.browser import chromium, missing_browser, serving, solve_on_page
from src.hrm.demo.models import SHIPPED, load_models

pytestmark = pytest.mark.skipif(missing_browser() is not None, reason=str(missing_browser()))

# Hard puzzle 1 of the generator: the shipped model solves it in 2 segments, a short animation.
PUZZLE = "000002000000000105700000040002073500460080000107040028000004907630020050000590230"


def test_the_page_solves_a_sudoku_as_the_api_does(tmp_path):
    app = create_app(load_models(SHIPPED, torch.device("cpu")))
    screenshot = tmp_path / "demo.png"
    with serving(app) as url, chromium() as driver:
        shown = solve_on_page(driver, url, PUZZLE)
        driver.save_screenshot(str(screenshot))
        trace = httpx.post(f"{url}/api/solve", json={"task": "sudoku", "puzzle": PUZZLE}, timeout=60).json()
        verdict = driver.find_element("id", "verdict").text
    assert shown == trace["answer"]
    assert verdict.startswith("Solved" if trace["solved"] else "Not solved")
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and screenshot.stat().st_size > 20_000
