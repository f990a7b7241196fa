"""Drive the demo page in headless Chromium: the browser test, and the README's screenshot.

    python -m src.hrm.demo.browser docs/demo.png [--views 4]

Serves the shipped checkpoints on a free local port, loads the page, solves a fixed Sudoku, waits for
the last frame, and saves a screenshot (docs/demo.png is this command's). Needs Debian's `chromium` and
`chromium-driver` packages and the `selenium` Python package.
"""

import argparse
import shutil
import socket
import sys
import threading
import time
from contextlib import contextmanager

import uvicorn

# Extreme puzzle 16 of the generator: alone the shipped model halts at segment 5, right; of 4 views one never
# halts and the checker refuses it. A screenshot with something to see.
PUZZLE = "008001003007000140000590000400370000000100086025006000300060002900000650000000900"
CHROMIUM, CHROMEDRIVER = "chromium", "chromedriver"


def missing_browser() -> str | None:
    """Why the browser cannot run here (a sentence naming the packages), or None."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "the selenium package is not installed (pip install -r requirements.txt)"
    if shutil.which(CHROMIUM) is None or shutil.which(CHROMEDRIVER) is None:
        return "needs Debian's chromium and chromium-driver packages (apt-get install chromium chromium-driver)"
    return None


@contextmanager
def serving(app):
    """Serve an ASGI app on a free port of 127.0.0.1 in a background thread; yields its URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the demo server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def chromium(width: int = 1240, height: int = 960):
    """A headless Chromium through Debian's chromedriver (no driver download)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 f"--window-size={width},{height}", "--hide-scrollbars", "--force-device-scale-factor=1"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(shutil.which(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def solve_on_page(driver, url: str, puzzle: str, views: int = 1, timeout: float = 60) -> str:
    """Load the page, paste the puzzle, press Solve, wait until the last frame is shown; the grid as 81 digits."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    driver.get(url)
    wait = WebDriverWait(driver, timeout)
    # The page loads a generated puzzle first; wait for it so that it does not land over ours.
    wait.until(lambda d: d.find_element(By.ID, "puzzle-text").get_attribute("value"))
    text = driver.find_element(By.ID, "puzzle-text")
    text.clear()
    text.send_keys(puzzle)
    Select(driver.find_element(By.ID, "views")).select_by_value(str(views))
    driver.find_element(By.ID, "solve").click()
    viewer = driver.find_element(By.ID, "viewer")

    def at_last_frame(d):
        error = d.find_element(By.ID, "error").text
        if error:
            raise RuntimeError(f"the page says: {error}")
        last = viewer.get_attribute("data-last")
        return last != "0" and viewer.get_attribute("data-step") == last and \
            viewer.get_attribute("data-playing") == "false"

    wait.until(at_last_frame)
    driver.execute_script("window.scrollTo(0, 0)")
    cells = driver.find_elements(By.CSS_SELECTOR, "#trace-grid .cell")
    return "".join(cell.text.strip() or "0" for cell in cells)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m src.hrm.demo.browser", description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="the screenshot to write (.png)")
    parser.add_argument("--views", type=int, default=4, help="views to solve (default 4: the strip shows)")
    args = parser.parse_args(argv)
    reason = missing_browser()
    if reason:
        print(f"browser: error: {reason}", file=sys.stderr)
        return 2
    import torch

    from .app import create_app
    from .models import SHIPPED, load_models

    app = create_app(load_models(SHIPPED, torch.device("cpu")))
    with serving(app) as url, chromium() as driver:
        board = solve_on_page(driver, url, PUZZLE, args.views)
        driver.save_screenshot(args.out)
    print(f"wrote {args.out}; the page shows {board}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
