"""The demo server through FastAPI's test client, with the shipped checkpoints: solves, puzzles, bad input, and
many requests at once."""

import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch

from src.hrm.boardpath import score_paths
from src.hrm.demo.app import MAX_BODY, MAX_ERROR, create_app
from src.hrm.demo.models import SHIPPED, load_models
from src.hrm.evaluation.inference import predict_with_act
from src.hrm.sudoku import Difficulty, count_solutions, generate_batch, generate_sudoku, rate_difficulty

# Hard puzzle 1 of the generator: the shipped model solves it in 2 segments.
PUZZLE = "000002000000000105700000040002073500460080000107040028000004907630020050000590230"
SOLUTION = "546712893328469175791358642982173564463285719157946328215634987639827451874591236"


@pytest.fixture(scope="module")
def models():
    return load_models(SHIPPED, torch.device("cpu"))


@pytest.fixture(scope="module")
def client(models):
    with warnings.catch_warnings():
        # Starlette >= 1.10 asks for httpx2 over httpx; either drives the test client.
        warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")
        from fastapi.testclient import TestClient
    with TestClient(create_app(models)) as client:
        yield client


def digits(text: str) -> np.ndarray:
    return np.array([int(c) for c in text], dtype=np.int64)


def test_the_page_and_its_files_come_from_the_server(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    for path in ("/static/demo.js", "/static/demo.css"):
        assert client.get(path).status_code == 200
        assert f'"{path}"' in page.text
    assert "//" not in page.text.replace('"/static/', "")  # nothing from another host
    assert client.get("/docs").status_code == 404  # FastAPI's docs page loads scripts from a CDN


def test_info_lists_the_tasks(client):
    info = client.get("/api/info").json()
    assert info["tasks"]["sudoku"] == {"size": 9, "checkpoint": "hrm-act-sudoku.safetensors", "max_segments": 16}
    assert info["tasks"]["boardpath"]["size"] == 10
    assert info["tasks"]["maze"] == {"size": 30, "checkpoint": "hrm-act-maze.safetensors", "max_segments": 16}
    assert info["difficulties"][0] == "very-easy" and info["max_views"] == 8


def test_a_sudoku_solve_ends_on_the_models_answer(client, models):
    trace = client.post("/api/solve", json={"task": "sudoku", "puzzle": PUZZLE}).json()
    frames = trace["views"][0]["frames"]
    assert trace["puzzle"] == PUZZLE and trace["solution"] == SOLUTION
    assert frames[-1]["board"] == trace["answer"] and frames[-1]["halts"]
    assert [f["segment"] for f in frames] == list(range(1, len(frames) + 1))
    # The same puzzle through evaluate's batch code: the board where ACT halts.
    model = models["sudoku"].model
    result = predict_with_act(model, torch.as_tensor(digits(PUZZLE)[None]), 16, 16)
    assert "".join(map(str, result.act_predictions[0].tolist())) == trace["answer"]
    assert result.act_segments[0] == len(frames) == trace["views"][0]["halted_at"]
    assert trace["solved"] == (trace["answer"] == SOLUTION) and trace["accepted"] == trace["solved"]


def test_a_board_solve_marks_a_shortest_path(client, models):
    board = client.get("/api/puzzle", params={"task": "boardpath", "seed": 3}).json()
    assert board["size"] == 10 and len(board["puzzle"]) == 100
    expected, _ = models["boardpath"].task.boards(1, 3)
    assert board["puzzle"] == "".join(".#SE"[v - 1] for v in expected[0])
    rows = "\n".join(board["puzzle"][r * 10 : (r + 1) * 10] for r in range(10))
    trace = client.post("/api/solve", json={"task": "boardpath", "puzzle": rows}).json()
    answer = trace["views"][0]["frames"][-1]["board"]
    assert answer == trace["answer"] and trace["puzzle"] == board["puzzle"]
    tokens = np.array([".#SE*".index(c) + 1 for c in answer])
    assert trace["solved"] == bool(score_paths(expected, tokens[None], 10)[1][0])


def test_views_side_by_side(client):
    trace = client.post("/api/solve", json={"task": "sudoku", "puzzle": PUZZLE, "views": 4, "no_halt": True}).json()
    assert len(trace["views"]) == 4
    assert all(len(view["frames"]) == 16 for view in trace["views"])  # no_halt: every segment
    chosen = trace["views"][trace["chosen_view"]]
    assert trace["accepted"] and chosen["accepted"] and chosen["answer"] == trace["answer"] == SOLUTION
    for view in trace["views"]:  # the answer is the board where the view halted, not its last
        if view["halted_at"]:
            assert view["frames"][view["halted_at"] - 1]["board"] == view["answer"]


def test_puzzles_by_difficulty_rating_and_seed(client):
    got = client.get("/api/puzzle", params={"task": "sudoku", "difficulty": "hard", "seed": 7}).json()
    puzzle, _ = generate_sudoku(Difficulty.HARD, rng=7)
    assert got["puzzle"] == "".join(map(str, puzzle.reshape(-1))) and got["seed"] == 7
    again = client.get("/api/puzzle", params={"task": "sudoku", "difficulty": "hard", "seed": 7}).json()
    assert again == got
    rated = client.get("/api/puzzle", params={"task": "sudoku", "rating": "10-19", "seed": 1}).json()
    grid = digits(rated["puzzle"])
    assert count_solutions(grid, 2) == 1 and 10 <= rate_difficulty(grid) == rated["rating"] <= 19
    fresh = client.get("/api/puzzle", params={"task": "sudoku"}).json()
    assert fresh["difficulty"] == "medium" and isinstance(fresh["seed"], int)


@pytest.mark.parametrize("body,status,message", [
    ({"task": "sudoku", "puzzle": "123"}, 400, "a puzzle needs 81 cells, found 3"),
    ({"task": "sudoku", "puzzle": "x" + "0" * 80}, 400, "invalid character 'x' at position 1"),
    ({"task": "sudoku", "puzzle": "11" + "0" * 79}, 400, "digit 1 appears twice in row 1"),
    ({"task": "sudoku", "puzzle": "123456780" + "0" * 71 + "9"}, 400, "the puzzle has no solution"),
    ({"task": "sudoku", "puzzle": "1" + "0" * 80}, 400, "several solutions"),
    ({"task": "sudoku", "puzzle": PUZZLE, "views": 9}, 400, "views: Input should be less than or equal to 8"),
    ({"task": "sudoku", "puzzle": PUZZLE, "views": 0}, 400, "views: Input should be greater than or equal to 1"),
    ({"task": "sudoku", "puzzle": PUZZLE, "views": "2"}, 400, "views: Input should be a valid integer"),
    ({"task": "sudoku", "puzzle": PUZZLE, "file": "/etc/passwd"}, 400, "file: Extra inputs are not permitted"),
    ({"task": "sudoku"}, 400, "puzzle: Field required"),
    ({"task": "chess", "puzzle": PUZZLE}, 400, "no 'chess' checkpoint; it solves: sudoku, boardpath, maze"),
    ({"task": "boardpath", "puzzle": "S..\n...\n..E"}, 400, "a 3x3 board; this model solves 10x10 boards"),
    ({"task": "boardpath", "puzzle": "S" + "." * 98 + "x"}, 400, "row 10, column 10: 'x'"),
    ({"task": "boardpath", "puzzle": "S#" + "." * 8 + "#" * 2 + "." * 87 + "E"}, 400, "E cannot be reached from S"),
    ({"task": "boardpath", "puzzle": "." * 100}, 400, "a board needs exactly one S"),
    ({"task": "maze", "puzzle": "S..\n...\n..E"}, 400, "a 3x3 maze; this model solves 30x30 mazes"),
    ({"task": "maze", "puzzle": "S#" + "." * 28 + "##" + "." * 867 + "E"}, 400, "E cannot be reached from S"),
    ({"task": "maze", "puzzle": "S" + "." * 898 + "*"}, 400, "'*'"),
    ([1, 2], 400, "Input should be a valid dictionary"),
])  # fmt: skip
def test_bad_solves_are_one_line_4xx(client, body, status, message):
    response = client.post("/api/solve", json=body)
    assert response.status_code == status and message in response.json()["error"], response.text
    assert "\n" not in response.json()["error"]


@pytest.mark.parametrize("params,message", [
    ({"task": "sudoku", "difficulty": "impossible"}, "unknown difficulty 'impossible'"),
    ({"task": "sudoku", "rating": "500"}, "unknown rating '500'"),
    ({"task": "sudoku", "difficulty": "hard", "rating": "0"}, "not both"),
    ({"task": "sudoku", "seed": -1}, "seed: Input should be greater than or equal to 0"),
    ({"task": "sudoku", "seed": 2**64}, "seed: Input should be less than"),
    ({"task": "boardpath", "difficulty": "hard"}, "boards have no difficulty"),
    ({"task": "maze", "rating": "0"}, "mazes have no difficulty or rating"),
    ({}, "task: Field required"),
])  # fmt: skip
def test_bad_puzzle_requests_are_one_line_4xx(client, params, message):
    response = client.get("/api/puzzle", params=params)
    assert response.status_code == 400 and message in response.json()["error"], response.text


@pytest.mark.parametrize("body", [{"task": "y" * 200_000, "puzzle": PUZZLE},
                                  {"task": "sudoku", "puzzle": PUZZLE, "x" * 200_000: 1}])
def test_an_error_echoes_a_bounded_part_of_the_input(client, body):
    reply = client.post("/api/solve", json=body)
    error = reply.json()["error"]
    assert reply.status_code == 400 and len(error) <= MAX_ERROR and len(reply.content) < 1000
    assert error.endswith("…") and ("yyyy" in error or "xxxx" in error)


def test_a_malformed_or_oversized_body_is_refused_and_the_server_keeps_serving(client):
    response = client.post("/api/solve", content=b'{"task": ', headers={"content-type": "application/json"})
    assert response.status_code == 400 and response.json()["error"].startswith("the body is not valid JSON")
    response = client.post("/api/solve", content=b"0" * (MAX_BODY + 1), headers={"content-type": "application/json"})
    assert response.status_code == 413 and response.json() == {"error": "the request body is over 256 KiB"}

    def chunks():  # no Content-Length: counted as it comes
        for _ in range(MAX_BODY // 4096 + 2):
            yield b" " * 4096

    response = client.post("/api/solve", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert client.post("/api/solve", json={"task": "sudoku", "puzzle": PUZZLE}).json()["answer"] == SOLUTION


def test_fifty_requests_at_once_all_answer_their_own_puzzle(client):
    puzzles, solutions = generate_batch([Difficulty.VERY_EASY] * 50, seed=5, workers=1)
    texts = ["".join(map(str, p)) for p in puzzles]

    def solve(text):
        return client.post("/api/solve", json={"task": "sudoku", "puzzle": text})

    with ThreadPoolExecutor(50) as pool:
        responses = list(pool.map(solve, texts))
    assert [r.status_code for r in responses] == [200] * 50
    for text, solution, response in zip(texts, solutions, responses):
        trace = response.json()
        assert trace["puzzle"] == text and trace["solution"] == "".join(map(str, solution))
        answer = digits(trace["answer"])
        assert ((digits(text) == 0) | (answer == digits(text))).all()  # its own givens: no other request's board


def test_a_rated_puzzle_not_found_in_time_is_a_503(client, monkeypatch):
    from src.hrm.demo import puzzles

    monkeypatch.setattr(puzzles, "RATING_SECONDS", 0.0)
    response = client.get("/api/puzzle", params={"task": "sudoku", "rating": "50-99", "seed": 1})
    assert response.status_code == 503 and response.json()["error"].startswith("no puzzle rated 50-99 found in 0 s")


def asgi_solve(app, body: bytes, then_disconnect: bool) -> list[dict]:
    """POST /api/solve straight through ASGI: the body, then (if asked) the client's disconnect; the messages sent."""
    import asyncio

    async def run():
        messages = [{"type": "http.request", "body": body, "more_body": False}]
        if then_disconnect:
            messages.append({"type": "http.disconnect"})
        stay = asyncio.Event()

        async def receive():
            if messages:
                return messages.pop(0)
            await stay.wait()  # a client that stays sends nothing more

        sent = []

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
                 "path": "/api/solve", "raw_path": b"/api/solve", "query_string": b"", "root_path": "",
                 "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
                 "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}  # fmt: skip
        await app(scope, receive, send)
        return sent

    return asyncio.run(run())


def test_a_solve_whose_client_has_left_is_not_run(models, monkeypatch):
    """Ten abandoned heavy solves must not hold up a light one: a queued solve whose client is gone is skipped."""
    import json

    import src.hrm.demo.models as models_module

    calls = []
    real = models_module.solve
    monkeypatch.setattr(models_module, "solve", lambda *args: calls.append(1) or real(*args))
    app = create_app(models)
    body = json.dumps({"task": "sudoku", "puzzle": PUZZLE}).encode()
    left = asgi_solve(app, body, then_disconnect=True)
    assert left[0]["status"] == 499 and calls == []
    stayed = asgi_solve(app, body, then_disconnect=False)
    assert stayed[0]["status"] == 200 and calls == [1]
    assert json.loads(b"".join(m.get("body", b"") for m in stayed[1:]))["task"] == "sudoku"


def test_a_maze_is_drawn_in_the_boards_legend_and_solved(client, models):
    from src.hrm.maze import score_paths as score_mazes

    maze = client.get("/api/puzzle", params={"task": "maze", "seed": 2}).json()
    expected = models["maze"].task.make_case(None, None, None, 2).inputs
    assert maze["size"] == 30 and maze["puzzle"] == "".join("#.SE"[v - 1] for v in expected)
    # the published layout's characters are taken too: spaces for open cells, G for the goal
    layout = maze["puzzle"].replace(".", " ").replace("E", "G")
    trace = client.post("/api/solve", json={"task": "maze", "puzzle": "\n".join(
        layout[r * 30:(r + 1) * 30] for r in range(30))}).json()  # fmt: skip
    assert trace["task"] == "maze" and trace["puzzle"] == maze["puzzle"]
    answer = trace["views"][0]["frames"][-1]["board"]
    tokens = np.array(["?#.SE*".index(ch) for ch in answer], dtype=np.int8)
    _, shortest = score_mazes(expected[None], tokens[None], 30)
    assert answer == trace["answer"] and trace["solved"] == bool(shortest[0])
    assert trace["solved"]  # hard maze 2 of the evaluation stream: a 114-step path the shipped model finds
