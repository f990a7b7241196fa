"""Pictures of the model reasoning: frames drawn with Pillow, saved as an animated GIF.

A frame shows the board the model predicts after a segment, or after a high-level cycle inside one
(`reasoning_frames`): cells that changed since the previous frame are outlined, and a caption gives
the segment (and cycle) and, at a segment's end, the Q head's halt and continue values. Sudoku frames show givens in black, right digits in blue and wrong ones
in red; path-finding frames show walls, S, E and the predicted path, with a wrong path
cell in red.
"""

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .file_io import atomic_write

BACKGROUND, GRID, TEXT = (255, 255, 255), (60, 60, 60), (20, 20, 20)
GIVEN, RIGHT, WRONG, CHANGED = (20, 20, 20), (25, 95, 200), (210, 40, 40), (245, 170, 20)
FLOOR_COLOUR, WALL_COLOUR, START_COLOUR, END_COLOUR, PATH_COLOUR = (
    (240, 240, 240), (70, 70, 80), (40, 160, 70), (200, 60, 160), (250, 200, 40))
CAPTION_HEIGHT = 34


@dataclass
class Caption:
    segment: int  # 0: the board as given, before any reasoning
    q_halt: float | None  # sigmoid of the halt logit; None inside a segment (the Q head speaks at its end)
    q_continue: float | None
    halted: bool  # the model stops after this segment
    cycle: int | None = None  # a frame after high-level cycle `cycle` of `cycles` (None: one frame per segment)
    cycles: int | None = None

    def text(self) -> str:
        if self.segment == 0:
            return "the board as given"
        where = f"segment {self.segment}" + (f" cycle {self.cycle}/{self.cycles}" if self.cycle is not None else "")
        if self.q_halt is None:
            return where
        stop = "  halt" if self.halted else ""
        return f"{where}   Q halt {self.q_halt:.3f}  continue {self.q_continue:.3f}{stop}"


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: a fixed-size bitmap font
        return ImageFont.load_default()


def _canvas(width: int, cells_height: int, caption: Caption) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    image = Image.new("RGB", (width, cells_height + CAPTION_HEIGHT), BACKGROUND)
    draw = ImageDraw.Draw(image)
    draw.text((8, cells_height + 9), caption.text(), fill=TEXT, font=_font(14))
    return image, draw


def sudoku_frame(puzzle, board, solution, changed, caption: Caption, cell: int = 36) -> Image.Image:
    """A 9×9 board: givens black, right digits blue, wrong red (all blue without a solution); changes outlined."""
    puzzle, board = np.asarray(puzzle).reshape(9, 9), np.asarray(board).reshape(9, 9)
    changed = np.asarray(changed, dtype=bool).reshape(9, 9)
    margin = 6
    side = 9 * cell + 2 * margin
    image, draw = _canvas(side, side, caption)
    font = _font(int(cell * 0.62))
    for r in range(9):
        for c in range(9):
            x, y = margin + c * cell, margin + r * cell
            if changed[r, c]:
                draw.rectangle([x + 2, y + 2, x + cell - 2, y + cell - 2], outline=CHANGED, width=3)
            value = int(board[r, c])
            if value == 0:
                continue
            if puzzle[r, c]:
                colour = GIVEN
            elif solution is None:
                colour = RIGHT
            else:
                colour = RIGHT if value == int(np.asarray(solution).reshape(9, 9)[r, c]) else WRONG
            draw.text((x + cell / 2, y + cell / 2), str(value), fill=colour, font=font, anchor="mm")
    for k in range(10):
        width = 3 if k % 3 == 0 else 1
        offset = margin + k * cell
        draw.line([(margin, offset), (margin + 9 * cell, offset)], fill=GRID, width=width)
        draw.line([(offset, margin), (offset, margin + 9 * cell)], fill=GRID, width=width)
    return image


@dataclass(frozen=True)
class BoardPalette:
    """The tokens of a square path board, drawn in the colours above (the board's own token numbers)."""

    wall: int
    start: int
    end: int
    path: int


def board_frame(board, prediction, right, changed, size: int, caption: Caption, palette: BoardPalette,
                cell: int | None = None) -> Image.Image:  # fmt: skip
    """An N×N path board: open cells, walls, start, end, the predicted path (`right` [N²] bool marks correct
    cells), in `palette`'s tokens."""
    WALL, START, END, PATH = palette.wall, palette.start, palette.end, palette.path  # noqa: N806
    cell = cell or max(8, min(60, 360 // size))  # about 370 px whatever the board size
    board, prediction = np.asarray(board).reshape(size, size), np.asarray(prediction).reshape(size, size)
    right = np.asarray(right, dtype=bool).reshape(size, size)
    changed = np.asarray(changed, dtype=bool).reshape(size, size)
    margin = 6
    side = max(size * cell + 2 * margin, 300)
    image, draw = _canvas(side, size * cell + 2 * margin, caption)
    for r in range(size):
        for c in range(size):
            x, y = margin + c * cell, margin + r * cell
            given = int(board[r, c])
            colour = {WALL: WALL_COLOUR, START: START_COLOUR, END: END_COLOUR}.get(given, FLOOR_COLOUR)
            if given not in (WALL, START, END) and int(prediction[r, c]) == PATH:
                colour = PATH_COLOUR if right[r, c] else WRONG
            draw.rectangle([x, y, x + cell - 1, y + cell - 1], fill=colour, outline=BACKGROUND)
            if changed[r, c]:
                draw.rectangle([x + 1, y + 1, x + cell - 2, y + cell - 2], outline=CHANGED, width=max(1, cell // 10))
    return image


CYCLE_MS, SEGMENT_MS = 350, 700  # a frame inside a segment passes faster than a segment's last one


def reasoning_frames(start: np.ndarray, records: list[dict], draw) -> tuple[list[Image.Image], list[int]]:
    """The frames of a run and their durations: the board as given, then the board after each high-level cycle
    of each segment (records' "cycle_boards"; a segment's last cycle is its own board, captioned with its Q
    values). `draw(board, changed, caption)` draws one frame; changes are counted from the frame before."""
    frames = [draw(start, np.zeros(np.shape(start), dtype=bool), Caption(0, None, None, False))]
    durations, previous = [SEGMENT_MS], start
    for record in records:
        boards = record["cycle_boards"]
        for cycle, board in enumerate(boards, start=1):
            last = cycle == len(boards)
            q = (record["q_halt"], record["q_continue"]) if last else (None, None)
            caption = Caption(record["segment"], *q, record["halts"] and last, cycle, len(boards))
            frames.append(draw(board, board != previous, caption))
            durations.append(SEGMENT_MS if last else CYCLE_MS)
            previous = board
    return frames, durations


def save_gif(frames: list[Image.Image], path, frame_ms: int | list[int] = 700, hold_last_ms: int = 2500) -> None:
    """Write the frames as a looping animated GIF (`frame_ms` each, or one duration per frame), the last one held
    longer; atomically (no half-written file)."""
    if not frames:
        raise ValueError("a GIF needs at least one frame")
    durations = [frame_ms] * len(frames) if isinstance(frame_ms, int) else list(frame_ms)
    if len(durations) != len(frames):
        raise ValueError(f"{len(frames)} frames but {len(durations)} durations")
    durations[-1] = hold_last_ms
    with atomic_write(path, binary=True) as file:
        frames[0].save(file, format="GIF", save_all=True, append_images=frames[1:], duration=durations, loop=0,
                       optimize=True)  # fmt: skip
