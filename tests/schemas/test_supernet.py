"""The supernet export against an independent reading of the 37-character code."""

import ast
import json

import numpy as np
import pytest

from schemas.search_space import MAX_DEPTH, TASK_GROUPS, ArchError, explain_arch_error, sample_archs
from schemas.supernet import (
    BUILDER_ARGUMENTS,
    N_SPECIFIC_EXPERTS,
    builder_arguments,
    export_document,
    export_python,
    supernet_config,
)

# The grammar read straight off the competition's description, not through schemas/.
DEPTH = {"j": 10, "k": 11, "l": 12}
HEADS = {"1": 12, "2": 11, "3": 10}
RATIO = {"1": 4.0, "2": 3.5, "3": 3.0}
# VIMER-UFO's MoE config trains one specific expert per task: n_tasks=4.
SPECIFIC_EXPERTS = 4

ARCHS = sample_archs(600, np.random.default_rng(19))


def read_code(code: str) -> dict:
    """The set_sample_config dict by the character table, padded with the last layer."""
    depth = DEPTH[code[0]]
    groups = [code[1 + 3 * i : 4 + 3 * i] for i in range(12)]
    assert groups[depth:] == ["000"] * (12 - depth)
    assert {g[2] for g in groups[:depth]} == {"1"}  # embed 768
    heads = [HEADS[g[0]] for g in groups[:depth]]
    ratios = [RATIO[g[1]] for g in groups[:depth]]
    heads += [heads[-1]] * (12 - depth)
    ratios += [ratios[-1]] * (12 - depth)
    return {
        "layer_num": depth,
        "num_heads": heads,
        "mlp_ratio": ratios,
        "embed_dim": [768] * 12,
        "softpolicy_mlp_ratio": [
            {"common_expert": r, "specific_experts": [r] * SPECIFIC_EXPERTS} for r in ratios
        ],
    }


def test_the_sample_holds_every_depth():
    assert {code[0] for code in ARCHS} == set(DEPTH)


def test_config_equals_the_character_table_reading():
    assert [c for c in ARCHS if supernet_config(c) != read_code(c)] == []


def test_short_networks_repeat_their_last_layer_to_twelve_entries():
    for code in (c for c in ARCHS if DEPTH[c[0]] < 12):
        config = supernet_config(code)
        last = config["layer_num"] - 1
        for key in ("num_heads", "mlp_ratio", "softpolicy_mlp_ratio"):
            assert len(config[key]) == MAX_DEPTH
            assert config[key][last:] == [config[key][last]] * (12 - last), key


def test_one_specific_expert_per_ufo_training_task():
    # the four tasks UFO trained on are the four task groups
    assert N_SPECIFIC_EXPERTS == SPECIFIC_EXPERTS == len(TASK_GROUPS)


def test_padded_entries_are_separate_objects():
    config = supernet_config(next(c for c in ARCHS if c[0] == "j"))
    config["softpolicy_mlp_ratio"][11]["specific_experts"][0] = 0.0
    assert config["softpolicy_mlp_ratio"][10]["specific_experts"][0] != 0.0


BAD_CODES = [
    "l11",  # too short
    "m" + "111" * 12,  # depth code
    "j" + "111" * 11 + "000",  # layer 11 past depth 10 must be 000
    "l" + "411" + "111" * 11,  # heads code
    "l" + "141" + "111" * 11,  # mlp code
    "l" + "112" + "111" * 11,  # embed code
]


@pytest.mark.parametrize("code", BAD_CODES)
@pytest.mark.parametrize("export", [supernet_config, export_document, export_python])
def test_invalid_codes_are_refused_with_the_grammars_message(code, export):
    with pytest.raises(ArchError) as raised:
        export(code)
    assert str(raised.value) == f"invalid arch {code!r}: {explain_arch_error(code)}"


def test_builder_arguments_fix_patch_stride_and_input_size():
    assert BUILDER_ARGUMENTS == builder_arguments(256)
    assert BUILDER_ARGUMENTS["patch_size"] == BUILDER_ARGUMENTS["stride_size"] == 16
    assert BUILDER_ARGUMENTS["input_size"] == [256, 256] and BUILDER_ARGUMENTS["depth"] == "base"
    assert builder_arguments(224)["input_size"] == [224, 224]
    with pytest.raises(ValueError, match="multiple of the patch size"):
        builder_arguments(250)


def test_the_document_is_plain_data_naming_the_arch():
    code = ARCHS[0]
    document = export_document(code, image_size=224)
    assert json.loads(json.dumps(document)) == document
    assert document == {
        "arch": code,
        "supernet_config": read_code(code),
        "builder_arguments": builder_arguments(224),
    }


@pytest.mark.parametrize("code", [next(c for c in ARCHS if c[0] == d) for d in DEPTH])
def test_the_python_snippet_defines_the_same_values(code):
    source = export_python(code)
    assert source == export_python(code)  # deterministic
    namespace: dict = {}
    exec(compile(source, "<export>", "exec"), namespace)
    assert namespace["ARCH"] == code
    assert namespace["SUPERNET_CONFIG"] == read_code(code)
    assert namespace["BUILDER_ARGUMENTS"] == BUILDER_ARGUMENTS
    # literals only: a deployment can read it without running it
    assigned = [node for node in ast.parse(source).body if isinstance(node, ast.Assign)]
    assert [node.targets[0].id for node in assigned] == [
        "ARCH",
        "SUPERNET_CONFIG",
        "BUILDER_ARGUMENTS",
    ]
    assert [ast.literal_eval(node.value) for node in assigned] == [
        code,
        read_code(code),
        BUILDER_ARGUMENTS,
    ]
