"""The VIMER-UFO ViT-Base search space as code: the 37-character arch grammar,
decoding and sampling. The cost model lives beside it, in schemas/costs.py. Nothing else in the project parses arch strings."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

TASKS: tuple[str, ...] = (
    "cplfw",
    "market1501",
    "dukemtmc",
    "msmt17",
    "veri",
    "vehicleid",
    "veriwild",
    "sop",
)
# The eight tasks by what they recognise: the four tasks the UFO supernet was trained on
# (VIMER-UFO OneForAll: task1 faces MS1MV3, task2 PersonAll, task3 VeriAll, task4 SOP),
# each holding the competition's test sets of its kind. Objective specs name them.
TASK_GROUPS: dict[str, tuple[str, ...]] = {
    "face": ("cplfw",),
    "person": ("market1501", "dukemtmc", "msmt17"),
    "vehicle": ("veri", "vehicleid", "veriwild"),
    "product": ("sop",),
}
RANK_FIELDS: tuple[str, ...] = tuple(f"{task}_rank" for task in TASKS)
# A training file of one's own measurements may give a task's measured metric instead of
# its rank (higher = better); see tasks/files/measurements.py.
SCORE_FIELDS: tuple[str, ...] = tuple(f"{task}_score" for task in TASKS)
ARCH_FIELD = "arch"
KEY_COLUMN = "key"

ARCH_LENGTH = 37
MAX_DEPTH = 12
DEPTH_BY_CODE: dict[str, int] = {"j": 10, "k": 11, "l": 12}
HEADS_BY_CODE: dict[str, int] = {"1": 12, "2": 11, "3": 10}
MLP_RATIO_BY_CODE: dict[str, float] = {"1": 4.0, "2": 3.5, "3": 3.0}
EMBED_DIM_BY_CODE: dict[str, int] = {"1": 768}
ABSENT_LAYER = "000"
CHOICE_CODES: tuple[str, ...] = ("1", "2", "3")

# ViT-Base constants (the cost model in schemas/costs.py uses them; image size is a setting there).
EMBED_DIM = 768
HEAD_DIM = 64
PATCH_SIZE = 16
IN_CHANNELS = 3


def _build_arch_regex() -> str:
    layer = (
        f"[{''.join(HEADS_BY_CODE)}][{''.join(MLP_RATIO_BY_CODE)}][{''.join(EMBED_DIM_BY_CODE)}]"
    )
    branches = [
        f"{code}(?:{layer}){{{depth}}}"
        + (f"(?:{ABSENT_LAYER}){{{MAX_DEPTH - depth}}}" if depth < MAX_DEPTH else "")
        for code, depth in DEPTH_BY_CODE.items()
    ]
    return "^(?:" + "|".join(branches) + ")$"


# The full grammar in one regular expression (used by the Great Expectations suites too).
ARCH_REGEX = _build_arch_regex()
_ARCH_PATTERN = re.compile(ARCH_REGEX)


class ArchError(ValueError):
    """An arch string that does not follow the 37-character grammar."""


@dataclass(frozen=True)
class Arch:
    depth: int
    heads: tuple[int, ...]
    mlp_ratios: tuple[float, ...]
    code: str


def explain_arch_error(code: object) -> str | None:
    """Return why `code` is not a valid arch string, or None when it is valid."""
    if not isinstance(code, str):
        return f"arch must be a string, got {type(code).__name__}"
    if len(code) != ARCH_LENGTH:
        return f"arch must have {ARCH_LENGTH} characters, got {len(code)}"
    if code[0] not in DEPTH_BY_CODE:
        return f"depth code {code[0]!r} is not one of {sorted(DEPTH_BY_CODE)}"
    depth = DEPTH_BY_CODE[code[0]]
    for i in range(MAX_DEPTH):
        group = code[1 + 3 * i : 4 + 3 * i]
        if i >= depth:
            if group != ABSENT_LAYER:
                return f"layer {i + 1} is past depth {depth} and must be {ABSENT_LAYER!r}, got {group!r}"
            continue
        if group[0] not in HEADS_BY_CODE:
            return f"layer {i + 1} heads code {group[0]!r} is not one of {sorted(HEADS_BY_CODE)}"
        if group[1] not in MLP_RATIO_BY_CODE:
            return f"layer {i + 1} mlp code {group[1]!r} is not one of {sorted(MLP_RATIO_BY_CODE)}"
        if group[2] not in EMBED_DIM_BY_CODE:
            return (
                f"layer {i + 1} embed code {group[2]!r} is not one of {sorted(EMBED_DIM_BY_CODE)}"
            )
    return None


def is_valid_arch(code: object) -> bool:
    return isinstance(code, str) and _ARCH_PATTERN.match(code) is not None


def decode_arch(code: str) -> Arch:
    """Decode a 37-character arch string; raise ArchError naming the broken rule."""
    problem = explain_arch_error(code)
    if problem is not None:
        raise ArchError(f"invalid arch {code!r}: {problem}")
    depth = DEPTH_BY_CODE[code[0]]
    heads = tuple(HEADS_BY_CODE[code[1 + 3 * i]] for i in range(depth))
    mlps = tuple(MLP_RATIO_BY_CODE[code[2 + 3 * i]] for i in range(depth))
    return Arch(depth=depth, heads=heads, mlp_ratios=mlps, code=code)


def encode_arch(
    depth: int, heads: list[int] | tuple[int, ...], mlp_ratios: list[float] | tuple[float, ...]
) -> str:
    """Inverse of decode_arch: build the 37-character code from choices."""
    depth_code = {v: k for k, v in DEPTH_BY_CODE.items()}
    heads_code = {v: k for k, v in HEADS_BY_CODE.items()}
    mlp_code = {v: k for k, v in MLP_RATIO_BY_CODE.items()}
    if depth not in depth_code or len(heads) != depth or len(mlp_ratios) != depth:
        raise ArchError(f"depth {depth} with {len(heads)} heads and {len(mlp_ratios)} mlp ratios")
    try:
        layers = "".join(
            heads_code[h] + mlp_code[float(m)] + "1" for h, m in zip(heads, mlp_ratios, strict=True)
        )
    except KeyError as exc:
        raise ArchError(f"choice {exc.args[0]!r} is outside the search space") from exc
    return depth_code[depth] + layers + ABSENT_LAYER * (MAX_DEPTH - depth)


def sample_archs(n: int, rng: np.random.Generator) -> list[str]:
    """Sample archs the way the training set was drawn: depth uniform over 10/11/12,
    each present layer's heads and mlp codes uniform and independent."""
    depth_codes = np.array(list(DEPTH_BY_CODE))
    depths = np.array([DEPTH_BY_CODE[c] for c in depth_codes])
    pick = rng.integers(0, len(depth_codes), size=n)
    choices = rng.integers(0, len(CHOICE_CODES), size=(n, MAX_DEPTH, 2))
    codes = np.array(CHOICE_CODES)[choices]
    out = []
    for row in range(n):
        depth = int(depths[pick[row]])
        layers = "".join(codes[row, i, 0] + codes[row, i, 1] + "1" for i in range(depth))
        out.append(str(depth_codes[pick[row]]) + layers + ABSENT_LAYER * (MAX_DEPTH - depth))
    return out


def choice_matrix(codes: list[str] | tuple[str, ...]) -> np.ndarray:
    """Vectorised decode of many valid arch strings into an (n, 12, 2) uint8 array:
    [:, layer, 0] is the heads code, [:, layer, 1] the mlp code, as 1/2/3, and 0 for a
    layer past the depth. Callers validate first; this checks only the overall shape."""
    if len(codes) == 0:
        return np.zeros((0, MAX_DEPTH, 2), dtype=np.uint8)
    blob = "".join(codes).encode("ascii")
    if len(blob) != ARCH_LENGTH * len(codes):
        raise ArchError("every arch must have 37 ASCII characters")
    raw = np.frombuffer(blob, dtype=np.uint8).reshape(len(codes), ARCH_LENGTH)
    groups = raw[:, 1:].reshape(len(codes), MAX_DEPTH, 3)[:, :, :2]
    return (groups - ord("0")).astype(np.uint8)
