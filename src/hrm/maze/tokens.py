"""Maze tokens and text: the published layout's characters `#`, space, `S`, `G`, `o` as small ints.

The ids follow the original's dataset builder (CHARSET "# SGo", id = index + 1), so 0 stays unused
like the boardpath board's and a grid of zeros is not a maze.
"""

import numpy as np

WALL, OPEN, START, GOAL, PATH = 1, 2, 3, 4, 5
VOCAB_SIZE = 6
CHARSET = "# SGo"  # token - 1 -> character
GLYPHS = "?" + CHARSET  # token -> character
_TOKEN_OF = np.full(256, -1, dtype=np.int8)  # byte -> token, -1 for a character the layout does not use
_TOKEN_OF[np.frombuffer(CHARSET.encode("ascii"), np.uint8)] = np.arange(1, len(CHARSET) + 1)


def text_to_tokens(text: str) -> np.ndarray:
    """A row of the layout (`#`, space, `S`, `G`, `o`) as int8 tokens; ValueError naming the first unknown character."""
    data = np.frombuffer(text.encode("utf-8"), np.uint8)
    tokens = _TOKEN_OF[data]
    if len(data) != len(text) or (tokens < 0).any():
        cell, char = next((i, ch) for i, ch in enumerate(text) if ch not in CHARSET)
        raise ValueError(f"cell {cell + 1}: {char!r} is not one of '#', ' ', 'S', 'G', 'o'")
    return tokens


def tokens_to_text(tokens) -> str:
    """Tokens back to the layout's characters (a token outside the vocabulary as '?')."""
    glyphs = np.frombuffer(GLYPHS.encode("ascii"), np.uint8)
    return glyphs[np.clip(np.asarray(tokens, dtype=np.int64).reshape(-1), 0, len(GLYPHS) - 1)].tobytes().decode()


def maze_to_string(tokens, size: int) -> str:
    """A maze (or answer, or prediction) as a picture, one line per row."""
    text = tokens_to_text(tokens)
    return "\n".join(text[r * size:(r + 1) * size] for r in range(size))
