"""What every shipped Sudoku checkpoint is: the default model, stored in bf16."""

from safetensors import safe_open

from src.hrm.checkpoint import load_model


def assert_default_model_in_bf16(path) -> None:
    assert path.stat().st_size <= 15 * 2**20
    with safe_open(str(path), framework="pt") as handle:
        assert {handle.get_slice(key).get_dtype() for key in handle.keys()} == {"BF16"}
    model = load_model(path)
    assert sum(p.numel() for p in model.parameters()) == 6_822_146
    assert model.config.to_dict() == type(model.config)().to_dict()
