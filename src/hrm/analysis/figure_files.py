"""Writing a matplotlib figure to a PNG atomically: a half-written picture never replaces a good one."""

import os
from pathlib import Path


def save_figure(figure, path, dpi: int = 110) -> None:
    """Lay `figure` out tightly, write it to `path` through a temporary file beside it, and close it."""
    import matplotlib.pyplot as plt

    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.png")
    try:
        figure.tight_layout()
        figure.savefig(tmp, format="png", dpi=dpi)
        os.replace(tmp, path)
    finally:
        plt.close(figure)
        tmp.unlink(missing_ok=True)
