import numpy as np

from schemas.encodings import (
    ENCODINGS,
    encode_notebook,
    encode_onehot,
    notebook_feature_names,
    onehot_feature_names,
)
from schemas.search_space import CHOICE_CODES, DEPTH_BY_CODE, MAX_DEPTH
from tests.factories import ARCH_J, ARCH_L

# The seed notebook printed convert_X of arch1 ('l231131331121121331111211121331321321').
NOTEBOOK_ARCH1 = [0, 1, 1, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 1, 1, 0, 0, 0, 1, 1, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 1, 1, 1, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0]  # fmt: skip


def test_seed_encoding_reproduces_the_notebook_on_arch1():
    assert ARCH_L == "l231131331121121331111211121331321321"
    assert encode_notebook([ARCH_L])[0].astype(int).tolist() == NOTEBOOK_ARCH1


def test_seed_encoding_flags_missing_tail_layers():
    row = encode_notebook([ARCH_J])[0]
    assert row.shape == (100,)
    tail = row[80:].reshape(2, 2, 5)
    assert tail.tolist() == [[[0, 0, 0, 0, 1]] * 2] * 2
    assert len(notebook_feature_names()) == 100


def test_onehot_encoding_has_one_choice_per_present_layer():
    x = encode_onehot([ARCH_J, ARCH_L])
    names = onehot_feature_names()
    # a one-hot per depth, then per layer one per heads code and one per mlp code
    n_features = len(DEPTH_BY_CODE) + MAX_DEPTH * 2 * len(CHOICE_CODES)
    assert x.shape == (2, n_features) and len(names) == n_features
    assert x[0, names.index("depth_10")] == 1 and x[1, names.index("depth_12")] == 1
    depths = len(DEPTH_BY_CODE)
    assert x[0, depths:].sum() == 2 * 10 and x[1, depths:].sum() == 2 * 12  # 2 per present layer
    assert x[1, names.index("L1_heads_2")] == 1 and x[1, names.index("L1_mlp_3")] == 1
    assert x[0, names.index("L11_heads_1") : names.index("L12_mlp_3") + 1].sum() == 0


def test_encodings_are_registered_with_versions():
    for name, encoding in ENCODINGS.items():
        assert encoding.name == name and encoding.version >= 1
        assert encoding.build([ARCH_J]).shape == (1, len(encoding.feature_names()))
    assert np.array_equal(encode_notebook([ARCH_J, ARCH_L]), encode_notebook([ARCH_J, ARCH_L]))
