from pathlib import Path

import numpy as np
import pytest

from schemas import costs
from schemas.costs import (
    DEFAULT_IMAGE_SIZE,
    LAYER_KINDS,
    count_macs,
    count_params,
    kind_counts,
    layer_params,
    layernorm_macs_fvcore,
    macs_cost,
    n_tokens,
    params_cost,
)
from schemas.search_space import encode_arch, sample_archs

FULL = encode_arch(12, [12] * 12, [4.0] * 12)
SMALLEST = encode_arch(10, [10] * 10, [3.0] * 10)
README = Path(__file__).resolve().parents[2] / "README.md"


def test_a_full_vit_b16_block_has_the_published_parameter_count():
    assert layer_params(12, 3072) == 7_087_872


@pytest.mark.parametrize("heads", [10, 11, 12])
@pytest.mark.parametrize("hidden", [2304, 2688, 3072])
def test_layer_parameters_follow_the_closed_form(heads, hidden):
    assert layer_params(heads, hidden) == 4608 + 196_800 * heads + 1_537 * hidden


def test_full_vit_base_at_224_has_86_million_parameters_and_17_6_gmacs():
    # ViT-B/16 backbone without classifier: 85,798,656 parameters (timm, fvcore: 17.56 G).
    assert count_params(FULL, image_size=224) == 85_798_656
    assert count_macs(FULL, image_size=224) == pytest.approx(17.56e9, rel=0.002)


def test_ufo_default_image_size_is_256_and_changes_macs_not_blocks():
    assert n_tokens() == n_tokens(DEFAULT_IMAGE_SIZE) == 257
    assert count_params(FULL) - count_params(FULL, image_size=224) == (257 - 197) * 768
    assert count_macs(FULL) > count_macs(FULL, image_size=224) * (256 / 224) ** 2


def test_parameter_count_shrinks_with_every_choice():
    fewer_heads = encode_arch(12, [10] + [12] * 11, [4.0] * 12)
    smaller_mlp = encode_arch(12, [12] * 12, [3.0] + [4.0] * 11)
    shallower = encode_arch(10, [12] * 10, [4.0] * 10)
    per_head = 4 * 768 * 64 + 3 * 64  # qkv weights+biases and projection weights of one head
    assert count_params(FULL) - count_params(fewer_heads) == 2 * per_head
    # 768 fewer hidden units: fc1 weights and biases, fc2 weights (fc2 bias is per output)
    assert count_params(FULL) - count_params(smaller_mlp) == 2 * 768 * 768 + 768
    assert count_params(shallower) < count_params(fewer_heads)


@pytest.mark.parametrize("cost, exact", [(params_cost, count_params), (macs_cost, count_macs)])
def test_the_additive_form_equals_the_exact_count_on_every_sampled_arch(cost, exact):
    archs = sample_archs(300, np.random.default_rng(3))
    got = cost().of_archs(archs)
    assert got.tolist() == [float(exact(a)) for a in archs]


def test_kind_counts_add_up_to_the_depth():
    archs = sample_archs(50, np.random.default_rng(4))
    counts = kind_counts(archs)
    assert counts.shape == (50, len(LAYER_KINDS))
    assert counts.sum(axis=1).tolist() == [{"j": 10, "k": 11, "l": 12}[a[0]] for a in archs]


def test_image_size_must_be_a_multiple_of_the_patch():
    with pytest.raises(ValueError, match="multiple of the patch size"):
        n_tokens(250)


@pytest.mark.parametrize("size", [100_000, costs.MAX_IMAGE_SIZE + 16, True])
def test_an_image_size_beyond_the_bound_is_refused(size):
    with pytest.raises(ValueError, match=f"at most {costs.MAX_IMAGE_SIZE}, got {size!r}"):
        n_tokens(size)


def test_at_the_largest_image_size_the_search_sums_macs_exactly():
    from tasks.safety.limits import MAX_COST_TERM
    from tasks.search.front import quantise_additive_cost

    size = costs.MAX_IMAGE_SIZE
    cost = macs_cost(size)
    assert max(cost.per_kind) <= MAX_COST_TERM  # a latency table could hold these terms
    quantised = quantise_additive_cost(cost)
    assert int(quantised.of_archs([FULL])[0]) == count_macs(FULL, image_size=size)


def test_fvcore_would_add_five_macs_per_element_of_every_layernorm():
    # 2 norms a block and the final norm, over (256/16)^2 + 1 tokens of 768 channels
    assert layernorm_macs_fvcore(FULL) == (2 * 12 + 1) * ((256 // 16) ** 2 + 1) * 768 * 5
    assert layernorm_macs_fvcore(SMALLEST) == (2 * 10 + 1) * 257 * 768 * 5
    assert layernorm_macs_fvcore(FULL, image_size=224) == 25 * ((224 // 16) ** 2 + 1) * 768 * 5


def _fvcore_extra_percent(code: str) -> float:
    return 100 * layernorm_macs_fvcore(code) / count_macs(code)


def test_the_documented_fvcore_difference_is_what_the_code_computes():
    drawn = [_fvcore_extra_percent(c) for c in sample_archs(2000, np.random.default_rng(7))]
    # the full network and the smallest one are the extremes of the space
    assert (
        _fvcore_extra_percent(FULL) <= min(drawn) <= max(drawn) <= _fvcore_extra_percent(SMALLEST)
    )
    readme = " ".join(README.read_text().split())
    docstring = " ".join(costs.__doc__.split())
    extra = f"{layernorm_macs_fvcore(FULL) / 1e6:.2f}M"
    full, smallest = _fvcore_extra_percent(FULL), _fvcore_extra_percent(SMALLEST)
    for text in (extra, f"+{full:.3f}%", f"+{smallest:.3f}%", f"+{np.mean(drawn):.2f}%"):
        assert text in readme, text
    for text in (extra, f"{full:.3f}%", f"{smallest:.3f}%", f"{count_macs(FULL) / 1e9:.2f}G"):
        assert text in docstring, text
