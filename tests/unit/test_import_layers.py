"""No import runs upward: each room of src/hrm imports only from its own layer and the layers below it.

The layers, bottom first, are those docs/architecture.md draws. A module that needs a type from above names
it under `if TYPE_CHECKING:` (a task handed to evaluation code, say), which this check skips.
"""

import ast
import pathlib

import pytest

SRC = pathlib.Path(__file__).resolve().parents[2] / "src" / "hrm"
LAYERS = [
    {"file_io", "cli_types", "cli_errors", "numba_cache", "hub", "frames"},  # utilities
    {"sudoku", "boardpath", "maze"},  # engines: numba kernels, files, generators, checkers
    {"modeling"},
    {"checkpoint", "checkpoint_config"},
    {"evaluation"},
    {"tasks"},
    {"training"},
    {"analysis"},
    {"demo"},
    {"train", "train_args", "evaluate", "infer", "analyze", "make_dataset", "plot_metrics", "plot_ratings"},  # commands
]
RANK = {room: rank for rank, rooms in enumerate(LAYERS) for room in rooms}


def room_of(parts: list[str]) -> str:
    """The room of a module path inside src/hrm: its folder, or the top-level module itself."""
    return parts[0] if parts else ""


def imports(path: pathlib.Path, src: pathlib.Path = SRC) -> list[tuple[str, int]]:
    """(room imported, line) for each relative import of the file outside `if TYPE_CHECKING:`."""
    tree = ast.parse(path.read_text())
    skipped = {id(node) for branch in ast.walk(tree) if isinstance(branch, ast.If)
               and "TYPE_CHECKING" in ast.unparse(branch.test) for node in ast.walk(branch)}  # fmt: skip
    package = list(path.relative_to(src).parent.parts)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom) or id(node) in skipped:
            continue
        assert node.level or not (node.module or "").startswith("src.hrm"), f"{path}: imports src.hrm absolutely"
        if not node.level:
            continue
        base = package[: len(package) - (node.level - 1)]
        if node.module:
            found.append((room_of(base + node.module.split(".")), node.lineno))
        else:
            found += [(room_of(base + [alias.name]), node.lineno) for alias in node.names]
    return found


MODULES = sorted(path for path in SRC.rglob("*.py") if path.parent != SRC or path.name != "__init__.py")


def test_every_room_has_a_layer():
    rooms = {room_of(list(path.relative_to(SRC).with_suffix("").parts)) for path in MODULES}
    assert rooms <= set(RANK), f"rooms with no layer: {sorted(rooms - set(RANK))}"


@pytest.mark.parametrize("path", MODULES, ids=lambda path: str(path.relative_to(SRC)))
def test_imports_run_down_or_sideways(path):
    room = room_of(list(path.relative_to(SRC).with_suffix("").parts))
    upward = [f"line {line}: {room} imports {target}" for target, line in imports(path)
              if target in RANK and RANK[target] > RANK[room]]  # fmt: skip
    assert not upward, f"{path.relative_to(SRC)}: " + "; ".join(upward)


def test_the_check_sees_an_upward_import(tmp_path):
    """The check itself: an evaluation module importing tasks is flagged; the same import for type checking is not."""
    room = tmp_path / "evaluation"
    room.mkdir()
    (room / "bad.py").write_text("from ..tasks import Task\n")
    (room / "fine.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..tasks import Task\n")
    assert imports(room / "bad.py", tmp_path) == [("tasks", 1)]
    assert imports(room / "fine.py", tmp_path) == []
