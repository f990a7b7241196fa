"""The demo's web server: a JSON API and the static page, one FastAPI app.

    GET  /              the page (static/index.html; its JS and CSS under /static, nothing from the network)
    GET  /api/info      the tasks this server solves: board size, checkpoint name, segments, difficulties, ratings
    GET  /api/puzzle    ?task=sudoku&difficulty=hard | &rating=20-49 | task=boardpath; &seed=S to repeat one
    POST /api/solve     {"task", "puzzle", "views": 1, "no_halt": false} -> the trace (trace.py)

Bad input is a 4xx whose body is {"error": "<one line>"} (a rated puzzle not found in time: a 503, alike);
nothing a client sends names a file.
"""

import anyio.from_thread
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from ..sudoku import Difficulty
from .models import ClientGone, LoadedModel
from .page import STATIC
from .puzzles import (
    RATINGS,
    PuzzleError,
    PuzzleTimeout,
    board_problem,
    fresh_seed,
    generated_board,
    generated_sudoku,
    rated_sudoku,
    sudoku_problem,
)
from .trace import MAX_VIEWS

MAX_BODY = 256 * 1024  # a 256×256 board, the largest a checkpoint may hold, is 66 KB of text
MAX_SEED = 2**63
MAX_ERROR = 300  # characters of an error body: a message may quote the client's input, of any size


class SolveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    task: str
    puzzle: str  # Sudoku: 81 cells; path board: its rows of `. # S E`
    views: int = Field(1, ge=1, le=MAX_VIEWS)
    no_halt: bool = False  # run every segment; the answer stays the board where the Q head said halt


def create_app(models: dict[str, LoadedModel]) -> FastAPI:
    """The server for some loaded models (`models.load_models`), by the kind of task they solve."""
    # No /docs page: FastAPI's loads its scripts from a CDN, and the demo uses no network.
    app = FastAPI(title="HRM-ACT demo", docs_url=None, redoc_url=None)
    app.add_middleware(BodyLimit, limit=MAX_BODY)

    def loaded(task: str) -> LoadedModel:
        if task not in models:
            raise PuzzleError(f"this server has no {task!r} checkpoint; it solves: {', '.join(models)}")
        return models[task]

    @app.exception_handler(PuzzleError)
    async def bad_puzzle(request, error: PuzzleError):
        return JSONResponse({"error": bounded(str(error))},
                            status_code=503 if isinstance(error, PuzzleTimeout) else 400)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request, error: RequestValidationError):
        return JSONResponse({"error": bounded(one_line(error.errors()[0]))}, status_code=400)

    @app.exception_handler(HTTPException)
    async def http_error(request, error: HTTPException):
        return JSONResponse({"error": bounded(str(error.detail))}, status_code=error.status_code,
                            headers=error.headers)

    @app.get("/", include_in_schema=False)
    def page():
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/api/info")
    def info():
        return {
            "tasks": {
                kind: {"size": m.size, "checkpoint": m.name, "max_segments": m.max_segments}
                for kind, m in models.items()
            },
            "difficulties": [d.cli_name for d in Difficulty],
            "ratings": list(RATINGS),
            "max_views": MAX_VIEWS,
        }

    @app.get("/api/puzzle")
    def puzzle(task: str, difficulty: str | None = None, rating: str | None = None,
               seed: int | None = Query(None, ge=0, lt=MAX_SEED)):
        """A generated puzzle: {task, size, puzzle, seed, difficulty, rating (the puzzle's own, when asked by
        rating)}; the same seed gives the same puzzle."""
        model = loaded(task)
        seed = fresh_seed() if seed is None else seed
        found = {"task": task, "size": model.size, "seed": seed, "difficulty": None, "rating": None}
        if difficulty is not None and rating is not None:
            raise PuzzleError("give a difficulty or a rating, not both")
        if task != "sudoku":  # path boards and mazes: by seed only
            if difficulty is not None or rating is not None:
                raise PuzzleError(f"{model.task.noun}s have no difficulty or rating; give a seed or nothing")
            problem = generated_board(model.task, seed)
        elif rating is not None:
            problem, found["rating"] = rated_sudoku(model.task, rating, seed)
        else:
            found["difficulty"] = difficulty or "medium"
            problem = generated_sudoku(model.task, found["difficulty"], seed)
        return {**found, "puzzle": model.task.cell_text(problem.cells)}

    @app.post("/api/solve")
    def solve(request: SolveRequest, http: Request):
        model = loaded(request.task)
        if request.task == "sudoku":
            problem = sudoku_problem(model.task, request.puzzle)
        else:
            problem = board_problem(model.task, request.puzzle)
        # Asked from this worker thread once the model is free: a client that left while queued costs nothing.
        gone = lambda: anyio.from_thread.run(http.is_disconnected)  # noqa: E731
        try:
            return model.solve(problem, request.views, request.no_halt, gone)
        except ClientGone:  # nobody reads the answer; 499 as proxies log a closed client
            return JSONResponse({"error": "the client left before its solve began"}, status_code=499)

    return app


class BodyLimit:
    """Refuse a request body over `limit` bytes with a 413 and a one-line error, before the app reads any of it."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        too_large = JSONResponse({"error": f"the request body is over {self.limit // 1024} KiB"}, status_code=413)
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > self.limit:
            return await too_large(scope, receive, send)
        body, more = b"", True
        while more:  # a body sent in chunks, without a length, is counted as it comes
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            body += message.get("body", b"")
            if len(body) > self.limit:
                return await too_large(scope, receive, send)
            more = message.get("more_body", False)
        replayed = False

        async def replay():
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def bounded(message: str, limit: int = MAX_ERROR) -> str:
    """The message cut to `limit` characters, an ellipsis ending one that was cut."""
    return message if len(message) <= limit else message[:limit - 1] + "…"


def one_line(error: dict) -> str:
    """A validation error of the request as one line: where, then what."""
    if error["type"] == "json_invalid":
        return f"the body is not valid JSON ({error.get('ctx', {}).get('error', 'decode error')})"
    where = ".".join(str(part) for part in error["loc"][1:]) or str(error["loc"][0])
    return " ".join(f"{where}: {error['msg']}".split())
