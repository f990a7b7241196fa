"""The original's training halting rule written out for one row: the reference the halting tests compare with."""


def reference_training_halt(limit, fixed, p, q_halt, q_continue, segments, explore_draw, min_halt_draw):
    """One row, in training, after its `segments`-th segment (docs/fidelity.md, the original's ACT step):
    (halted, last). Fixed think time stops at exactly `fixed`. Otherwise the 17th segment is forced (segments >
    haltMaxSteps); before it the row halts when q_halt > q_continue, unless exploration (draw < p) asks for more
    than min_halt segments."""
    if fixed is not None:
        return segments >= fixed, segments >= fixed
    last = segments > limit
    if last:
        return True, True
    wants = q_halt > q_continue
    if explore_draw < p and segments <= min_halt_draw:
        wants = False
    return wants, False
