import numpy as np

from schemas.encodings import (
    ENCODINGS,
    encode_onehot,
    encode_seed,
    onehot_feature_names,
    seed_feature_names,
)
from tests.factories import ARCH_J, ARCH_L

# The seed notebook printed convert_X of arch1 ('l231131331121121331111211121331321321').
SEED_ARCH1 = [0, 1, 1, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 1, 1, 0, 0, 0, 1, 1, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 1, 1, 1, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0]  # fmt: skip


def test_seed_encoding_reproduces_the_notebook_on_arch1():
    assert ARCH_L == "l231131331121121331111211121331321321"
    assert encode_seed([ARCH_L])[0].astype(int).tolist() == SEED_ARCH1


def test_seed_encoding_flags_missing_tail_layers():
    row = encode_seed([ARCH_J])[0]
    assert row.shape == (100,)
    tail = row[80:].reshape(2, 2, 5)
    assert tail.tolist() == [[[0, 0, 0, 0, 1]] * 2] * 2
    assert len(seed_feature_names()) == 100


def test_onehot_encoding_has_one_choice_per_present_layer():
    x = encode_onehot([ARCH_J, ARCH_L])
    names = onehot_feature_names()
    assert x.shape == (2, 75) and len(names) == 75
    assert x[0, names.index("depth_10")] == 1 and x[1, names.index("depth_12")] == 1
    assert x[0, 3:].sum() == 20 and x[1, 3:].sum() == 24  # 2 one-hots per present layer
    assert x[1, names.index("L1_heads_2")] == 1 and x[1, names.index("L1_mlp_3")] == 1
    assert x[0, names.index("L11_heads_1") : names.index("L12_mlp_3") + 1].sum() == 0


def test_encodings_are_registered_with_versions():
    for name, encoding in ENCODINGS.items():
        assert encoding.name == name and encoding.version >= 1
        assert encoding.build([ARCH_J]).shape == (1, len(encoding.feature_names()))
    assert np.array_equal(encode_seed([ARCH_J, ARCH_L]), encode_seed([ARCH_J, ARCH_L]))
