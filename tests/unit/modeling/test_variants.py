"""Every variant builds, and its parameter count equals a count from the config by formula."""

import pytest
import torch

from src.hrm.modeling import HRMACTInner
from src.hrm.modeling.variants import VARIANTS, variant_config


def counted_by_formula(config) -> int:
    """Parameters of HRMACTInner written out: embeddings, heads, two reasoners of blocks, initial states."""
    t, hidden = config.transformers, config.transformers.hidden_size
    inter = t.intermediate_size or -(int(t.expansion * hidden * 2 / 3) // -256) * 256  # rounded up to 256
    block = hidden * 3 * hidden + hidden * hidden + hidden * 2 * inter + inter * hidden  # qkv, out, gate/up, down
    return (hidden  # CLS token
            + config.vocab_size * hidden + hidden * config.vocab_size  # embedding, output head
            + hidden * 2 + 2  # Q head
            + 2 * t.num_layers * block  # high and low reasoners
            + 2 * hidden)  # frozen initial states


@pytest.mark.parametrize("name", [n for n in VARIANTS if VARIANTS[n][0] <= 768])
def test_variants_build_with_the_counted_parameters(name):
    config = variant_config(name)
    hidden, heads, layers, max_steps = VARIANTS[name]
    assert (config.transformers.hidden_size, config.transformers.num_heads) == (hidden, heads)
    assert (config.transformers.num_layers, config.act.halt_max_steps) == (layers, max_steps)
    with torch.device("meta"):  # no memory for the weights: the large variants count as fast as the small
        model = HRMACTInner(config)
    assert sum(p.numel() for p in model.parameters()) == counted_by_formula(config)


def test_the_large_variants_count_by_formula_too():
    for name in ("large", "xlarge"):
        with torch.device("meta"):
            model = HRMACTInner(variant_config(name))
        assert sum(p.numel() for p in model.parameters()) == counted_by_formula(variant_config(name))


def test_an_unknown_variant_names_the_known_ones():
    with pytest.raises(ValueError, match="unknown variant 'huge'; known: micro, tiny, small, base, large, xlarge"):
        variant_config("huge")
