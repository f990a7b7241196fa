"""The five puzzle difficulties of the original and their target clue ranges."""

import enum


class Difficulty(enum.IntEnum):
    """A difficulty level; the integer value indexes per-difficulty pools and weights."""

    VERY_EASY = 0
    EASY = 1
    MEDIUM = 2
    HARD = 3
    EXTREME = 4

    @property
    def clue_range(self) -> tuple[int, int]:
        """Inclusive (lower, upper) number of clues the generator aims for."""
        return _CLUE_RANGES[self]

    @property
    def cli_name(self) -> str:
        """The word used on the command line, e.g. ``very-easy``."""
        return self.name.lower().replace("_", "-")

    @classmethod
    def from_name(cls, name: str) -> "Difficulty":
        """Parse a command-line word (``very-easy``, ``easy``, ``medium``, ``hard``, ``extreme``)."""
        for member in cls:
            if member.cli_name == name.strip().lower():
                return member
        valid = ", ".join(member.cli_name for member in cls)
        raise ValueError(f"unknown difficulty {name!r}; expected one of: {valid}")


_CLUE_RANGES = {
    Difficulty.VERY_EASY: (46, 50),
    Difficulty.EASY: (40, 45),
    Difficulty.MEDIUM: (32, 39),
    Difficulty.HARD: (28, 31),
    Difficulty.EXTREME: (17, 27),
}
