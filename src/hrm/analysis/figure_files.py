"""Writing a matplotlib figure to a PNG atomically: a half-written picture never replaces a good one."""

from ..file_io import atomic_write


def save_figure(figure, path, dpi: int = 110) -> None:
    """Lay `figure` out tightly, write it to `path` through a temporary file beside it, and close it."""
    import matplotlib.pyplot as plt

    try:
        figure.tight_layout()
        with atomic_write(path, binary=True) as file:
            figure.savefig(file, format="png", dpi=dpi)
    finally:
        plt.close(figure)
