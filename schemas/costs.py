"""What a sub-network costs: exact parameter and multiply-accumulate (MAC) counts of the
UFO ViT-Base supernet's sub-networks, and the additive form every cost here takes.

Every cost in this project (parameters, MACs, a latency lookup table) is a fixed part
(patch embedding, class token, position embedding, final norm) plus one term per
transformer layer that depends only on the layer's *kind*: its (heads, mlp ratio) pair,
9 kinds in all. `AdditiveCost` holds that form; the exact search (tasks/search) relies on it.

What is counted. MACs: one multiply-add is one MAC, in the patch-embedding convolution
and every matrix product (qkv, attention scores, attention-weighted values, projection,
the MLP's two layers); bias adds, LayerNorm, softmax, GELU, the attention scaling and the
residual adds are not. That is fvcore's default count except for LayerNorm, which fvcore
counts at 5 per element: `layernorm_macs_fvcore` is what it would add, 24.67M MACs for
the full network at 256x256 (0.106% of its 23.20G), up to 0.137% on the smallest
sub-network (README.md, "Choose a sub-network for your chip"; tests/schemas/test_costs.py
checks these figures). Parameters: the patch embedding (weights and bias), the class token, the
position embedding at the chosen image size, every block (norms included) and the final
norm; no task head (the UFO task heads differ per task)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from schemas.search_space import (
    CHOICE_CODES,
    DEPTH_BY_CODE,
    EMBED_DIM,
    HEAD_DIM,
    HEADS_BY_CODE,
    IN_CHANNELS,
    MLP_RATIO_BY_CODE,
    PATCH_SIZE,
    choice_matrix,
    decode_arch,
    encode_arch,
)

# The UFO supernet is evaluated at 256x256: VIMER-UFO's OneForAll eval config
# (configs/MS1MV3_PersonAll_VeriAll_SOP_4cards/vitbasesuper_..._eval.py) resizes every
# test set to size_test=[256, 256] and builds the backbone with input_size=[256, 256].
# 256/16 = 16 patches a side, so 257 tokens with the class token.
DEFAULT_IMAGE_SIZE = 256

# The 9 layer kinds, (heads code, mlp code), in a fixed order: kind index 3*(h-1) + (m-1).
LAYER_KINDS: tuple[tuple[str, str], ...] = tuple((h, m) for h in CHOICE_CODES for m in CHOICE_CODES)
N_KINDS = len(LAYER_KINDS)
ABSENT_KIND = -1


def kind_label(kind: int) -> str:
    """Human name of a layer kind, e.g. 'heads12-mlp4.0'."""
    h, m = LAYER_KINDS[kind]
    return f"heads{HEADS_BY_CODE[h]}-mlp{MLP_RATIO_BY_CODE[m]}"


def uniform_arch(depth: int, kind: int) -> str:
    """The sub-network of `depth` layers, every one of them of layer kind `kind`."""
    h, m = LAYER_KINDS[kind]
    return encode_arch(depth, [HEADS_BY_CODE[h]] * depth, [MLP_RATIO_BY_CODE[m]] * depth)


def _kind_of_values(heads: int, mlp_ratio: float) -> int:
    codes = (
        next(c for c, v in HEADS_BY_CODE.items() if v == heads),
        next(c for c, v in MLP_RATIO_BY_CODE.items() if v == mlp_ratio),
    )
    return LAYER_KINDS.index(codes)


# The two ends of the space: every count (params, MACs, latency) is largest for the first
# and smallest for the second.
LARGEST_ARCH = uniform_arch(
    max(DEPTH_BY_CODE.values()),
    _kind_of_values(max(HEADS_BY_CODE.values()), max(MLP_RATIO_BY_CODE.values())),
)
SMALLEST_ARCH = uniform_arch(
    min(DEPTH_BY_CODE.values()),
    _kind_of_values(min(HEADS_BY_CODE.values()), min(MLP_RATIO_BY_CODE.values())),
)


def mlp_hidden(ratio: float) -> int:
    return int(EMBED_DIM * ratio)


# The largest image size accepted: 16x UFO's 256, 65,537 tokens. Costs stay exact there
# with room to spare (the largest sub-network's 8.6e13 MACs are whole numbers far below
# the 6.9e14 a cost term may be, tasks/safety/limits.py, which a layer's MACs pass at
# 13,104 px), and it is beyond any deployment of a 16-pixel-patch ViT: attention alone
# then needs 12 x 65,537^2 floats, 206 GB, per layer. 100,000 px asked 112 GiB for the
# position embedding alone and overflowed the exact MAC sums.
MAX_IMAGE_SIZE = 4096


def n_tokens(image_size: int = DEFAULT_IMAGE_SIZE) -> int:
    """Patch tokens plus the class token."""
    if (
        not isinstance(image_size, int)
        or isinstance(image_size, bool)
        or not PATCH_SIZE <= image_size <= MAX_IMAGE_SIZE
        or image_size % PATCH_SIZE
    ):
        raise ValueError(
            f"image size must be a positive multiple of the patch size {PATCH_SIZE}, "
            f"at most {MAX_IMAGE_SIZE}, got {image_size!r}"
        )
    return (image_size // PATCH_SIZE) ** 2 + 1


def layer_params(heads: int, hidden: int) -> int:
    """One transformer block: 2 LayerNorms (4*768), qkv (768 -> 3*64h, bias), attention
    projection (64h -> 768, bias), MLP (768 -> hidden -> 768, biases)
    = 4608 + 196,800 h + 1,537 hidden."""
    d, inner = EMBED_DIM, heads * HEAD_DIM
    norms = 2 * 2 * d
    qkv = d * 3 * inner + 3 * inner
    proj = inner * d + d
    mlp = d * hidden + hidden + hidden * d + d
    return norms + qkv + proj + mlp


def layer_macs(heads: int, hidden: int, tokens: int) -> int:
    """One block on N tokens: qkv N*768*3*64h, scores h*N*N*64, weighted values
    h*N*N*64, projection N*64h*768, MLP 2*N*768*hidden."""
    d, inner = EMBED_DIM, heads * HEAD_DIM
    return tokens * (d * 3 * inner + inner * d + 2 * d * hidden) + 2 * heads * HEAD_DIM * tokens**2


def stem_params(image_size: int = DEFAULT_IMAGE_SIZE) -> int:
    """Patch embedding (conv 16x16, bias), class token, position embedding, final norm."""
    d = EMBED_DIM
    patch = IN_CHANNELS * PATCH_SIZE**2 * d + d
    return patch + d + n_tokens(image_size) * d + 2 * d


def stem_macs(image_size: int = DEFAULT_IMAGE_SIZE) -> int:
    """The patch embedding is the only counted work outside the blocks."""
    return (n_tokens(image_size) - 1) * IN_CHANNELS * PATCH_SIZE**2 * EMBED_DIM


# fvcore's default handle for aten::layer_norm (norm_flop_counter) counts this many per
# input element of an affine norm ("a rough estimate", says fvcore).
FVCORE_LAYERNORM_PER_ELEMENT = 5


def layernorm_macs_fvcore(code: str, image_size: int = DEFAULT_IMAGE_SIZE) -> int:
    """What fvcore's default count adds to count_macs: two LayerNorms a block and the
    final norm, each over every token's 768 channels."""
    norms = 2 * decode_arch(code).depth + 1
    return norms * n_tokens(image_size) * EMBED_DIM * FVCORE_LAYERNORM_PER_ELEMENT


@dataclass(frozen=True)
class AdditiveCost:
    """cost(arch) = fixed + sum over the arch's layers of per_kind[kind of the layer]."""

    name: str  # "params", "macs" or "latency"
    unit: str  # what one unit of the cost is: "parameters", "MACs", "ms"
    fixed: float
    per_kind: tuple[float, ...]
    source: str = ""  # where the figures come from, for reports

    def __post_init__(self) -> None:
        if len(self.per_kind) != N_KINDS:
            raise ValueError(f"a cost needs {N_KINDS} per-kind terms, got {len(self.per_kind)}")
        values = np.asarray((self.fixed, *self.per_kind), dtype=np.float64)
        if not np.all(np.isfinite(values)) or np.any(values < 0):
            raise ValueError(f"cost {self.name!r}: terms must be finite and >= 0")

    def of_counts(self, counts: np.ndarray) -> np.ndarray:
        """Costs from an (n, 9) matrix of layer-kind counts."""
        return self.fixed + np.asarray(counts, dtype=np.float64) @ np.asarray(self.per_kind)

    def of_archs(self, codes: Sequence[str]) -> np.ndarray:
        return self.of_counts(kind_counts(codes))


def params_cost(image_size: int = DEFAULT_IMAGE_SIZE) -> AdditiveCost:
    per_kind = tuple(
        float(layer_params(HEADS_BY_CODE[h], mlp_hidden(MLP_RATIO_BY_CODE[m])))
        for h, m in LAYER_KINDS
    )
    return AdditiveCost(
        "params", "parameters", float(stem_params(image_size)), per_kind, f"exact, {image_size}px"
    )


def macs_cost(image_size: int = DEFAULT_IMAGE_SIZE) -> AdditiveCost:
    tokens = n_tokens(image_size)
    per_kind = tuple(
        float(layer_macs(HEADS_BY_CODE[h], mlp_hidden(MLP_RATIO_BY_CODE[m]), tokens))
        for h, m in LAYER_KINDS
    )
    return AdditiveCost(
        "macs", "MACs", float(stem_macs(image_size)), per_kind, f"exact, {image_size}px"
    )


def kind_matrix(codes: Sequence[str]) -> np.ndarray:
    """(n, 12) int8: the kind index of each layer, ABSENT_KIND past the depth."""
    choices = choice_matrix(list(codes)).astype(np.int16)
    kinds = 3 * (choices[:, :, 0] - 1) + (choices[:, :, 1] - 1)
    return np.where(choices[:, :, 0] > 0, kinds, ABSENT_KIND).astype(np.int8)


def kind_counts(codes: Sequence[str]) -> np.ndarray:
    """(n, 9) int64: how many layers of each kind every arch holds."""
    kinds = kind_matrix(codes)
    counts = np.zeros((len(kinds), N_KINDS), dtype=np.int64)
    for k in range(N_KINDS):
        counts[:, k] = (kinds == k).sum(axis=1)
    return counts


def count_params(code: str, image_size: int = DEFAULT_IMAGE_SIZE) -> int:
    """Exact parameter count of one sub-network's backbone (integer arithmetic)."""
    arch = decode_arch(code)
    return stem_params(image_size) + sum(
        layer_params(h, mlp_hidden(r)) for h, r in zip(arch.heads, arch.mlp_ratios, strict=True)
    )


def count_macs(code: str, image_size: int = DEFAULT_IMAGE_SIZE) -> int:
    """Exact MAC count of one sub-network's backbone on one image (integer arithmetic)."""
    arch = decode_arch(code)
    tokens = n_tokens(image_size)
    return stem_macs(image_size) + sum(
        layer_macs(h, mlp_hidden(r), tokens)
        for h, r in zip(arch.heads, arch.mlp_ratios, strict=True)
    )


def layer_config(code: str) -> list[dict[str, float | int]]:
    """The decoded per-layer config a deployment needs: heads, mlp ratio, mlp hidden."""
    arch = decode_arch(code)
    return [
        {"layer": i + 1, "heads": h, "mlp_ratio": r, "mlp_hidden": mlp_hidden(r)}
        for i, (h, r) in enumerate(zip(arch.heads, arch.mlp_ratios, strict=True))
    ]


def cheapest_arch(cost: AdditiveCost) -> tuple[str, float]:
    """The sub-network with the smallest `cost`, and that cost. Every term is >= 0, so it
    is the shortest depth with the cheapest kind in every layer."""
    kind = int(np.argmin(cost.per_kind))
    depth = min(DEPTH_BY_CODE.values())
    return uniform_arch(depth, kind), float(cost.fixed + depth * cost.per_kind[kind])
