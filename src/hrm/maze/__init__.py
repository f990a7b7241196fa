"""Maze-Hard engine: the published CSV layout, a seeded numba generator of hard mazes with BFS ground truth, and
scoring (exact match and any shortest path). Its views are the square's symmetries (`boardpath.views`)."""

from .files import (
    HF_DATASET,
    MazeFileError,
    MazeSet,
    parse_maze_csv,
    parse_maze_text,
    read_maze_file,
    resolve_maze_path,
    write_maze_csv,
)
from .generator import BACKTRACKER, HARD_MIN_PATH, WALLS, generate_mazes, maze_kinds
from .scoring import exact_match, score_paths, solve_mazes
from .tokens import GOAL, OPEN, PATH, START, VOCAB_SIZE, WALL, maze_to_string, text_to_tokens, tokens_to_text

__all__ = [
    "BACKTRACKER", "GOAL", "HARD_MIN_PATH", "HF_DATASET", "MazeFileError", "MazeSet", "OPEN", "PATH", "START",
    "VOCAB_SIZE", "WALL", "WALLS", "exact_match", "generate_mazes", "maze_kinds", "maze_to_string", "parse_maze_csv",
    "parse_maze_text", "read_maze_file", "resolve_maze_path", "score_paths", "solve_mazes", "text_to_tokens",
    "tokens_to_text",
]
