"""Data-parallel pieces: what two gloo processes share (gradients, a step's values, stop votes, setup errors), checked
against the mean and sums computed here; the names of the ranks' files; the rank-count rule of a resume."""

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from src.hrm.checkpoint import CheckpointError
from src.hrm.training.distributed import (
    RANK_STATE_NAME,
    Ranks,
    check_ranks,
    rank_state_path,
    saved_ranks,
    shard_of,
)

RANKS = 2


def gradients(rank: int) -> list[torch.Tensor]:
    """Rank r's gradients: a float32 matrix and a bf16 vector (the Q head's dtype), different on each rank."""
    generator = torch.Generator().manual_seed(100 + rank)
    return [torch.randn(3, 4, generator=generator), torch.randn(5, generator=generator).bfloat16()]


def step_values(rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Rank r's logged values (4 means, then 1 count) and row counters, float64 as train_step makes them."""
    return (torch.tensor([0.5 + rank, 0.25 * rank, 1.0, 0.125, 3.0 + 2 * rank], dtype=torch.float64),
            torch.tensor([10.0 + rank, 7.0 * rank], dtype=torch.float64))  # fmt: skip


def rank_main(rank: int, store: str, out: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=RANKS)
    try:
        ranks = Ranks(rank, RANKS, rank, RANKS, torch.device("cpu"))
        parameters = [torch.nn.Parameter(g.clone()) for g in gradients(rank)]
        for p, g in zip(parameters, gradients(rank)):
            p.grad = g.clone()
        ranks.average_gradients(parameters)
        ranks.stop_vote = rank == 1
        values, counters = ranks.share_step(*step_values(rank))
        error = ranks.first_error("its state file is missing" if rank == 1 else None)
        torch.save({"grads": [p.grad for p in parameters], "values": values, "counters": counters, "error": error},
                   f"{out}/rank{rank}.pt")  # fmt: skip
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """What each of two gloo processes holds after sharing its gradients, step values, stop vote and setup error."""
    folder = tmp_path_factory.mktemp("ranks")
    mp.spawn(rank_main, args=(str(folder / "store"), str(folder)), nprocs=RANKS)
    return [torch.load(folder / f"rank{rank}.pt") for rank in range(RANKS)]


def test_gradients_become_the_mean_over_the_ranks_on_every_rank(shared):
    for i, grad in enumerate(shared[0]["grads"]):
        mean = (gradients(0)[i].double() + gradients(1)[i].double()) / 2
        assert grad.dtype == gradients(0)[i].dtype  # the bf16 gradient stays bf16, rounded once
        assert torch.equal(grad, mean.to(grad.dtype))
        assert torch.equal(grad, shared[1]["grads"][i])


def test_a_steps_values_are_the_runs_on_every_rank_and_the_counters_each_ranks_own_then_the_runs(shared):
    (values0, counters0), (values1, counters1) = step_values(0), step_values(1)
    for rank, got in enumerate(shared):
        assert torch.equal(got["values"][:4], (values0[:4] + values1[:4]) / 2)
        assert got["values"][4] == values0[4] + values1[4]  # a count (halted rows) is summed
        own = step_values(rank)[1]
        assert torch.equal(got["counters"], torch.cat([own, counters0 + counters1, torch.tensor([1.0])]))


def test_a_setup_error_of_one_rank_is_every_ranks_naming_that_rank(shared):
    assert [got["error"] for got in shared] == ["rank 1: its state file is missing"] * 2


def test_the_ranks_files_and_the_names_of_their_shared_values(tmp_path):
    model = tmp_path / "checkpoint-250.safetensors"
    assert rank_state_path(model, 0) == tmp_path / "checkpoint-250.state.safetensors"
    assert rank_state_path(model, 3) == tmp_path / "checkpoint-250.rank3.state.safetensors"
    assert RANK_STATE_NAME.match("checkpoint-250.rank3.state.safetensors").groups() == ("250", "3")
    assert not RANK_STATE_NAME.match("checkpoint-250.state.safetensors")
    assert Ranks.shared_names(("consumed",)) == ("run_consumed", "stop_votes")
    assert shard_of(None).index == 0 and shard_of(None).count == 1


def test_a_run_resumes_with_the_number_of_ranks_that_trained_it(tmp_path):
    two = Ranks(0, 2, 0, 2, torch.device("cpu"))
    check_ranks(tmp_path, {}, None)  # a one-process run, resumed by one process
    check_ranks(tmp_path, {"ranks": 2}, two)
    with pytest.raises(CheckpointError, match="trained by 2 ranks, resumed by 1; .* --nproc-per-node 2"):
        check_ranks(tmp_path, {"ranks": 2}, None)
    with pytest.raises(CheckpointError, match="trained by 1 rank, resumed by 2"):
        check_ranks(tmp_path, {}, two)
    assert saved_ranks({"meta": '{"ranks": 4}'}) == 4
    assert saved_ranks({"meta": "{}"}) == saved_ranks({}) == saved_ranks({"meta": "not json"}) == 1
