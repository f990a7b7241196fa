"""Fuzzing `task_from_metadata`, which infer and evaluate call on a checkpoint's `task` entry: a task built exactly
from the settings, of the types its config declares, or one TaskError line."""

import dataclasses
import json
import typing

from hypothesis import example, given, settings
from hypothesis import strategies as st

from src.hrm.checkpoint import MAX_SEQ_LEN
from src.hrm.tasks import TASKS, TaskError, default_settings, task_from_metadata

VALUES = (
    st.integers(-3, 300) | st.sampled_from([10**9, 10**30, 2**63, -(2**63)]) | st.floats() | st.booleans()
    | st.none() | st.text(max_size=4) | st.lists(st.integers(0, 3), max_size=2)
    | st.dictionaries(st.sampled_from(["window", "threshold", "x"]), st.integers(-1, 3) | st.floats(0, 1), max_size=2)
)  # fmt: skip
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=4),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=8,
)


def has_declared_types(config) -> bool:
    """Every field of the (nested) config dataclass holds a value of its declared type (a float field takes ints)."""
    for field, kind in typing.get_type_hints(type(config)).items():
        value = getattr(config, field)
        if dataclasses.is_dataclass(kind):
            if not (isinstance(value, kind) and has_declared_types(value)):
                return False
            continue
        allowed = typing.get_args(kind) or (kind,)
        if isinstance(value, bool) and bool not in allowed:
            return False
        if not isinstance(value, allowed + ((int,) if float in allowed else ())):
            return False
    return True


def check(text: str) -> None:
    try:
        task = task_from_metadata({"task": text})
    except TaskError as err:
        assert str(err) and "\n" not in str(err), repr(err)
        return
    except Exception as err:  # noqa: BLE001
        raise AssertionError(f"{type(err).__name__} instead of a TaskError: {str(err)[:300]}") from None
    given_settings = json.loads(text) or {}
    defaults = default_settings(task.name)
    expected = {**defaults, **given_settings}
    if isinstance(defaults.get("curriculum"), dict):  # a curriculum's settings fill in one by one (Sudoku, maze)
        expected["curriculum"] = {**defaults["curriculum"], **given_settings.get("curriculum", {})}
    assert task.settings() == expected
    assert has_declared_types(task.config)
    assert type(task.seq_len) is int and 0 < task.seq_len <= MAX_SEQ_LEN


@settings(max_examples=300, deadline=None)
@given(
    name=st.sampled_from(sorted(TASKS)),
    edits=st.lists(st.tuples(st.text(max_size=12), VALUES), max_size=3),
    data=st.data(),
)
def test_settings_of_every_task(name, edits, data):
    task_settings = default_settings(name) | ({"data": "some.csv"} if name == "sudoku-dataset" else {})
    for key, value in edits:
        key = data.draw(st.sampled_from([key, *task_settings, "name"]))
        task_settings[key] = value
    check(json.dumps(task_settings))


@settings(max_examples=100, deadline=None)
@given(JSON.map(json.dumps) | st.text(max_size=20))
@example("[" * 10_000 + "]" * 10_000)
@example('{"name": "boardpath", "board_size": 1000000}')
def test_any_task_entry(text):
    check(text)


def test_an_empty_maze_curriculum_takes_the_defaults():
    # found by the fuzzer above: a curriculum's settings fill in one by one for the maze as for Sudoku
    check(json.dumps({"name": "maze", "size": 30, "curriculum": {}}))
