import pytest
import torch


@pytest.fixture
def one_thread():
    """Tiny models step fastest on one thread: with two, a busy core stalls every step (1.6 s instead of 0.01 s).
    A test file takes it with `pytestmark = pytest.mark.usefixtures("one_thread")`."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
