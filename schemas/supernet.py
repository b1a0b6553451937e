"""A sub-network in the supernet's own terms: the config dict VIMER-UFO's backbone
selects it with, and the arguments its builder needs.

In PaddlePaddle/VIMER, UFO/OneForAll, `build_vit_backbone_lazy` builds the ViT-Base
supernet and `set_sample_config(config, rank)` selects a sub-network:

- `layer_num` is the depth; `num_heads`, `mlp_ratio` and `embed_dim` have one entry per
  supernet block (12), padded past the depth with the last real layer's value, as the
  supernet's own `sample_configs` does (blocks past `layer_num` become identities);
- the task-MoE backbone (vision_transformer_super_hardpolicy_moe.py) sets each block's MLP
  width from `softpolicy_mlp_ratio`, not `mlp_ratio`: per block, a `common_expert` ratio
  and a list of `specific_experts` ratios, one per training task (N_SPECIFIC_EXPERTS);
  `rank` picks the entry of the process's task. Here every expert gets the layer's ratio,
  so every rank selects the same widths;
- `depth="base"` is ViT-Base (12 blocks of width 768, 12 heads of 64, MLP ratio 4, qkv
  bias); both builders need patch_size=16 and stride_size=16 given (the non-MoE builder
  defaults to patch 14) and input_size=[256, 256], the size the supernet was trained and
  evaluated at (another size changes the position embedding's shape).

Issue 19 checked the project against that code (Paddle 3.3.1, 206 sub-networks selected
with `set_sample_config`): schemas/costs.py's parameter and MAC counts are exact."""

from __future__ import annotations

from schemas.costs import DEFAULT_IMAGE_SIZE, n_tokens
from schemas.search_space import EMBED_DIM, HEAD_DIM, MAX_DEPTH, PATCH_SIZE, decode_arch

# UFO's MoE config trains one specific expert per task: n_tasks=4, task_names task1..task4
# (faces, persons, vehicles, products) in configs/MS1MV3_PersonAll_VeriAll_SOP_4cards/
# and the `n_tasks=4` default of `sample_configs`, which draws `specific_experts` of that length.
N_SPECIFIC_EXPERTS = 4


def builder_arguments(image_size: int = DEFAULT_IMAGE_SIZE) -> dict:
    """Keyword arguments of `build_vit_backbone_lazy` that fix the supernet's shape."""
    n_tokens(image_size)  # raises for a size the patch grid does not fit
    return {
        "depth": "base",
        "patch_size": PATCH_SIZE,
        "stride_size": PATCH_SIZE,
        "input_size": [image_size, image_size],
        "predefined_head_dim": HEAD_DIM,
    }


BUILDER_ARGUMENTS = builder_arguments()


def _padded(values: tuple) -> list:
    return list(values) + [values[-1]] * (MAX_DEPTH - len(values))


def supernet_config(arch: str) -> dict:
    """The `set_sample_config` dict of one arch; raises ArchError for an invalid code."""
    decoded = decode_arch(arch)
    ratios = _padded(decoded.mlp_ratios)
    return {
        "layer_num": decoded.depth,
        "num_heads": _padded(decoded.heads),
        "mlp_ratio": ratios,
        "embed_dim": [EMBED_DIM] * MAX_DEPTH,
        "softpolicy_mlp_ratio": [
            {"common_expert": ratio, "specific_experts": [ratio] * N_SPECIFIC_EXPERTS}
            for ratio in ratios
        ],
    }


def export_document(arch: str, image_size: int = DEFAULT_IMAGE_SIZE) -> dict:
    """What a deployment needs to cut `arch` out of the supernet, as plain data (JSON)."""
    return {
        "arch": arch,
        "supernet_config": supernet_config(arch),
        "builder_arguments": builder_arguments(image_size),
    }


def _python_dict(name: str, mapping: dict) -> str:
    """`name = {...}` with one key a line, and a list of dicts one dict a line."""
    lines = [f"{name} = {{"]
    for key, value in mapping.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            lines += [f"    {key!r}: [", *(f"        {item!r}," for item in value), "    ],"]
        else:
            lines.append(f"    {key!r}: {value!r},")
    return "\n".join([*lines, "}"]) + "\n"


def export_python(arch: str, image_size: int = DEFAULT_IMAGE_SIZE) -> str:
    """A Python snippet defining ARCH, SUPERNET_CONFIG and BUILDER_ARGUMENTS for `arch`."""
    document = export_document(arch, image_size)
    return (
        f"# Sub-network {arch} of the VIMER-UFO ViT-Base supernet (UFO/OneForAll):\n"
        "#   backbone = build_vit_backbone_lazy(**BUILDER_ARGUMENTS, ...)\n"
        "#   backbone.set_sample_config(SUPERNET_CONFIG, rank)  # the MoE backbone takes rank\n"
        f"ARCH = {arch!r}\n"
        + _python_dict("SUPERNET_CONFIG", document["supernet_config"])
        + _python_dict("BUILDER_ARGUMENTS", document["builder_arguments"])
    )
