"""The Sudoku engine: numba bitmask solver, the original's generator, a background puzzle supply, text I/O."""

from .difficulty import Difficulty
from .generator import generate_batch, generate_sudoku
from .mining import mine_puzzles
from .supply import PuzzleSupply
from .solver import count_solutions, count_solutions_batch, rate_difficulty, solve, solve_batch
from .text import board_to_string, find_conflict, format_puzzle, parse_puzzle, validate_solution

__all__ = [
    "Difficulty",
    "PuzzleSupply",
    "board_to_string",
    "count_solutions",
    "count_solutions_batch",
    "find_conflict",
    "format_puzzle",
    "generate_batch",
    "generate_sudoku",
    "mine_puzzles",
    "parse_puzzle",
    "rate_difficulty",
    "solve",
    "solve_batch",
    "validate_solution",
]
