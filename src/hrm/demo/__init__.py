"""A local web demo: pick a puzzle, press solve, and watch the model's segments in the browser.

    python -m src.hrm.demo [CHECKPOINT...] [--host 127.0.0.1] [--port 8000]

`trace` turns one solve into JSON frames, `puzzles` gives and checks puzzles, `models` holds the
loaded checkpoints (one model call at a time each), `app` is the FastAPI server, `page` renders one
trace as a self-contained HTML file (`infer --html`), and `static/` is the page itself.
"""
