"""One trace as a self-contained HTML page (`infer ... --html FILE`): the demo's viewer, no server, no network.

The page is the demo's own index.html with its stylesheet and script inlined and the trace embedded as
JSON; the script sees the embedded trace, hides the editor and plays the segments.
"""

import html
import json
from pathlib import Path

import numpy as np

from ..file_io import write_text_atomically
from .trace import Problem, trace_from_records

STATIC = Path(__file__).parent / "static"  # the page, its stylesheet and script: served by app.py, inlined here
_STYLESHEET = '<link rel="stylesheet" href="/static/demo.css">'
_SCRIPT = '<script src="/static/demo.js"></script>'


def standalone_page(trace: dict, title: str = "") -> str:
    """The page for one trace (trace.py's format); `title` is shown under the heading (say, the checkpoint)."""
    page = (STATIC / "index.html").read_text(encoding="utf-8")
    css = (STATIC / "demo.css").read_text(encoding="utf-8")
    script = (STATIC / "demo.js").read_text(encoding="utf-8")
    # "<" as \u003c: nothing in the JSON can close the script element that holds it.
    data = json.dumps(trace).replace("<", "\\u003c")
    embedded = (f'<script type="application/json" id="trace-data" data-title="{html.escape(title)}">{data}</script>\n'
                f"<script>\n{script}</script>")
    for marker in (_STYLESHEET, _SCRIPT):
        if marker not in page:
            raise RuntimeError(f"static/index.html no longer holds {marker}; page.py inlines it")
    return page.replace(_STYLESHEET, f"<style>\n{css}</style>").replace(_SCRIPT, embedded)


def run_page(task, puzzle, answer, records: list[dict], max_segments: int, title: str = "") -> str:
    """The page of one `infer` run: its Task, puzzle and answer (the solution or shortest path; None when the
    Sudoku has no unique one), and its per-segment records (segment, board, q_halt, q_continue, halts)."""
    answer = None if answer is None else np.asarray(answer).reshape(-1)
    problem = Problem(task, np.asarray(puzzle).reshape(-1), answer)
    return standalone_page(trace_from_records(problem, task.view_rules(), records, max_segments), title)


def write_page(path, text: str) -> None:
    """Write the page whole or not at all (a temporary file renamed over the target)."""
    write_text_atomically(path, text)
