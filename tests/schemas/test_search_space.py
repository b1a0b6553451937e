import numpy as np
import pytest

from schemas.search_space import (
    TASK_GROUPS,
    TASKS,
    ArchError,
    choice_matrix,
    decode_arch,
    encode_arch,
    explain_arch_error,
    is_valid_arch,
    sample_archs,
)
from tests.factories import ARCH_J, ARCH_K, ARCH_L


def test_decode_matches_the_seed_notebook_example():
    arch = decode_arch(ARCH_J)
    assert arch.depth == 10
    assert list(arch.heads) == [12, 11, 10, 10, 10, 11, 11, 12, 12, 11]
    assert list(arch.mlp_ratios) == [4.0, 3.0, 3.5, 4.0, 4.0, 3.5, 3.0, 3.5, 4.0, 3.0]


@pytest.mark.parametrize("code,depth", [(ARCH_J, 10), (ARCH_K, 11), (ARCH_L, 12)])
def test_encode_is_the_inverse_of_decode(code, depth):
    arch = decode_arch(code)
    assert arch.depth == depth
    assert encode_arch(arch.depth, arch.heads, arch.mlp_ratios) == code


@pytest.mark.parametrize(
    "code,fragment",
    [
        (ARCH_J[:-1], "37 characters"),
        ("x" + ARCH_J[1:], "depth code"),
        (ARCH_J[:-3] + "111", "past depth"),  # a layer past depth 10 that is not 000
        ("l" + ARCH_J[1:], "layer 11 heads"),  # depth 12 with 000 layers
        (ARCH_J[:1] + "4" + ARCH_J[2:], "heads code"),
        (ARCH_J[:2] + "0" + ARCH_J[3:], "mlp code"),
        (ARCH_J[:3] + "2" + ARCH_J[4:], "embed code"),
    ],
)
def test_invalid_archs_are_rejected_with_the_broken_rule(code, fragment):
    assert not is_valid_arch(code)
    assert fragment in explain_arch_error(code)
    with pytest.raises(ArchError, match=fragment):
        decode_arch(code)


def test_non_string_arch_is_invalid():
    assert not is_valid_arch(123)
    assert "string" in explain_arch_error(123)


def test_sampled_archs_are_valid_deterministic_and_cover_depths():
    a = sample_archs(300, np.random.default_rng(1))
    b = sample_archs(300, np.random.default_rng(1))
    assert a == b
    assert all(is_valid_arch(x) for x in a)
    assert {x[0] for x in a} == {"j", "k", "l"}


def test_choice_matrix_marks_absent_layers_with_zero():
    m = choice_matrix([ARCH_J, ARCH_L])
    assert m.shape == (2, 12, 2)
    assert (m[0, 10:] == 0).all() and (m[0, :10] > 0).all()
    assert m[1, 0].tolist() == [2, 3]  # l|231|... : heads code 2, mlp code 3


def test_task_groups_split_the_tasks_once_each_in_task_order():
    assert sum(TASK_GROUPS.values(), ()) == TASKS
