"""Path-finding boards (the seeds' boardpath task): numba generator with BFS ground truth, scorer, text I/O."""

from .board import (
    END,
    FLOOR,
    PATH,
    START,
    VOCAB_SIZE,
    WALL,
    board_to_string,
    generate_boards,
    parse_board,
    score_paths,
    solve_board,
)

__all__ = ["END", "FLOOR", "PATH", "START", "VOCAB_SIZE", "WALL", "board_to_string", "generate_boards",
           "parse_board", "score_paths", "solve_board"]
