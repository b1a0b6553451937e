"""Latency of sub-networks on a chip, as an additive cost: a fixed part (patch embedding,
class and position embeddings, final norm) plus one term per layer by its kind.

Three ways to get that table:
- read it from a lookup-table file (someone measured the 9 layer kinds on their chip);
- fit it by non-negative least squares to measured latencies of a few dozen whole
  sub-networks, and report the held-out (leave-one-out) error;
- measure it here: each layer kind and the fixed part as an ONNX graph with random
  weights, timed with onnxruntime on this machine's CPU, then checked against a few
  whole sub-networks timed the same way.

File formats (data/examples/README.md shows both with examples):

    latency table   {"unit": "ms", "fixed_ms": 7.7,
                     "layers": {"heads12-mlp4.0": 52.1, ... all 9 kinds ...},
                     "device": "...", "notes": "...", ...optional metadata}
    measurements    {"<37-character arch>": <ms>, ...}

Any problem with a file raises LatencyFileError, whose message names the file, the entry
(layer kind or arch) and the field, and says what was expected. That includes values the
exact search cannot sum exactly (tasks/safety/limits.py): every term and every measured
latency is at most MAX_COST_TERM ms, and the message gives that largest accepted value.

Both files are written whole or not at all, over a regular file only, and recorded in the
folder's ledger (tasks/safety/outputs.py), so the next run may replace them."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

from schemas.costs import (
    N_KINDS,
    AdditiveCost,
    kind_label,
    n_tokens,
)
from schemas.search_space import explain_arch_error
from tasks.errors import InputFileError
from tasks.safety import outputs
from tasks.safety.limits import MAX_COST_TERM, MIN_LARGEST_COST_TERM

logger = logging.getLogger(__name__)

UNIT = "ms"
KIND_LABELS: tuple[str, ...] = tuple(kind_label(k) for k in range(N_KINDS))
REQUIRED_TABLE_FIELDS = ("unit", "fixed_ms", "layers")
# Free-form provenance a table may carry; anything else is refused, so that a misspelt
# field ("layer", "fixed") is reported instead of silently ignored.
OPTIONAL_TABLE_FIELDS = (
    "device",
    "notes",
    "image_size",
    "threads",
    "repeats",
    "clock",
    "measured",
    "check",
)
# The fit has 10 unknowns (fixed part + 9 kinds); leave-one-out needs each fit on n-1 archs
# to still have more rows than unknowns, or the held-out error says nothing.
MIN_MEASUREMENTS = N_KINDS + 3
THREADS = 1  # one intra-op thread: stable timings on a small shared machine


class LatencyFileError(InputFileError):
    """A latency table or measurements file that cannot be used as one. A kind of
    InputFileError (a ValueError), so the CLI already reports it as a user error (exit 2)."""


def _problem(source: object, entry: str, field: str, expected: str, got: object) -> str:
    return f"{source}: entry {entry!r}, field {field!r}: expected {expected}, got {got!r}"


def _load_json(path: Path, what: str) -> object:
    """Strict JSON: the file exists, is UTF-8, parses, and repeats no key at any level.
    NaN and Infinity are let through here so the per-entry checks can name them."""
    path = Path(path)
    if path.is_dir():
        raise LatencyFileError(f"{path}: is a folder; expected a {what} file")
    if not path.exists():
        raise LatencyFileError(f"{path}: no such {what} file")
    if not path.is_file():
        raise LatencyFileError(f"{path}: not a regular file; expected a {what} file")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LatencyFileError(
            f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None

    def refuse_duplicates(pairs: list[tuple[str, object]]) -> dict:
        seen: dict = {}
        for key, value in pairs:
            if key in seen:
                raise LatencyFileError(f"{path}: entry {key!r} appears twice; expected unique keys")
            seen[key] = value
        return seen

    try:
        return json.loads(text, object_pairs_hook=refuse_duplicates)
    except json.JSONDecodeError as exc:
        raise LatencyFileError(
            f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); expected a {what} "
            "as a JSON object"
        ) from None


def _is_finite_number(value: object) -> bool:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer too large for a float, e.g. 1e400 written out
        return False


def _milliseconds(
    value: object, source: object, entry: str, field: str, *, allow_zero: bool
) -> float:
    ok = _is_finite_number(value) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise LatencyFileError(
            _problem(source, entry, field, f"a finite number of ms {bound}", value)
        )
    if value > MAX_COST_TERM:
        raise LatencyFileError(
            _problem(
                source,
                entry,
                field,
                f"at most {MAX_COST_TERM} ms, the largest value accepted "
                "(the search sums latencies exactly as integers below 2**53)",
                value,
            )
        )
    return float(value)


def _require_resolvable(per_kind: list[float], source: object) -> None:
    """The search rounds fractional terms to 1e-9 of the largest; it must not underflow."""
    largest = max(per_kind)
    if 0 < largest < MIN_LARGEST_COST_TERM:
        label = KIND_LABELS[per_kind.index(largest)]
        raise LatencyFileError(
            _problem(
                source,
                label,
                "layers",
                f"0 or at least {MIN_LARGEST_COST_TERM:g} ms for the largest layer term, the "
                "smallest accepted (the search rounds to 1e-9 of it)",
                largest,
            )
        )


def _image_size(data: dict, source: object) -> int | None:
    """The optional `image_size` a table was measured at: a size the cost model accepts."""
    if "image_size" not in data:
        return None
    value = data["image_size"]
    try:
        n_tokens(value)
    except ValueError as exc:
        raise LatencyFileError(
            _problem(source, "<top level>", "image_size", f"an image size in pixels ({exc})", value)
        ) from None
    return value


# --- lookup table -------------------------------------------------------------------------


def parse_latency_table(data: object, source: object = "<table>") -> AdditiveCost:
    """A latency table from its parsed JSON; see the module docstring for the format."""
    if not isinstance(data, dict):
        raise LatencyFileError(
            _problem(source, "<top level>", "<top level>", "a JSON object", type(data).__name__)
        )
    for field in REQUIRED_TABLE_FIELDS:
        if field not in data:
            raise LatencyFileError(
                _problem(source, "<top level>", field, f"the required field {field!r}", "nothing")
            )
    unknown = [f for f in data if f not in REQUIRED_TABLE_FIELDS + OPTIONAL_TABLE_FIELDS]
    if unknown:
        allowed = ", ".join(REQUIRED_TABLE_FIELDS + OPTIONAL_TABLE_FIELDS)
        raise LatencyFileError(
            _problem(
                source, "<top level>", unknown[0], f"only the fields {allowed}", "an unknown field"
            )
        )
    if data["unit"] != UNIT:
        raise LatencyFileError(_problem(source, "<top level>", "unit", repr(UNIT), data["unit"]))
    fixed = _milliseconds(data["fixed_ms"], source, "<top level>", "fixed_ms", allow_zero=True)
    layers = data["layers"]
    if not isinstance(layers, dict):
        raise LatencyFileError(
            _problem(
                source, "layers", "layers", "an object of layer kind -> ms", type(layers).__name__
            )
        )
    for label in layers:
        if label not in KIND_LABELS:
            raise LatencyFileError(
                _problem(
                    source,
                    label,
                    "layers",
                    f"one of the layer kinds {', '.join(KIND_LABELS)}",
                    label,
                )
            )
    per_kind = []
    for label in KIND_LABELS:
        if label not in layers:
            raise LatencyFileError(
                _problem(
                    source,
                    label,
                    "layers",
                    "a latency for every one of the 9 layer kinds",
                    "nothing",
                )
            )
        per_kind.append(_milliseconds(layers[label], source, label, "layers", allow_zero=True))
    _require_resolvable(per_kind, source)
    _image_size(data, source)
    description = ", ".join(str(data[f]) for f in ("device", "image_size") if f in data)
    return AdditiveCost(
        "latency",
        UNIT,
        fixed,
        tuple(per_kind),
        f"{source}" + (f" ({description})" if description else ""),
    )


def read_latency_table(path: Path) -> AdditiveCost:
    """Read a latency lookup-table file; LatencyFileError names whatever is wrong."""
    return read_latency_table_and_size(path)[0]


def read_latency_table_and_size(path: Path) -> tuple[AdditiveCost, int | None]:
    """A latency table and the image size it was measured at (None: the file does not say)."""
    data = _load_json(Path(path), "latency table")
    table = parse_latency_table(data, source=Path(path))  # image_size checked there
    return table, data.get("image_size")


def latency_table_document(cost: AdditiveCost, **metadata: object) -> dict:
    """The JSON object of a table file; metadata are the optional provenance fields."""
    unknown = [f for f in metadata if f not in OPTIONAL_TABLE_FIELDS]
    if unknown:
        raise ValueError(f"unknown latency table fields {unknown}; allowed {OPTIONAL_TABLE_FIELDS}")
    document: dict[str, object] = {
        "unit": UNIT,
        "fixed_ms": round(cost.fixed, 4),
        "layers": {
            label: round(ms, 4) for label, ms in zip(KIND_LABELS, cost.per_kind, strict=True)
        },
    }
    document.update(metadata)
    return document


def latency_table_bytes(cost: AdditiveCost, **metadata: object) -> bytes:
    return (json.dumps(latency_table_document(cost, **metadata), indent=2) + "\n").encode()


def write_latency_table(
    path: Path, cost: AdditiveCost, *, replace_any: bool = False, **metadata: object
) -> None:
    """Write a table file atomically (the old file, if any, stays until the new one is
    whole), over a file ufo wrote unless `replace_any`; see outputs.write_outputs."""
    outputs.write_outputs(
        {Path(path): latency_table_bytes(cost, **metadata)}, replace_any=replace_any
    )


# --- measurements and the NNLS fit -----------------------------------------------------------


def parse_measurements(data: object, source: object = "<measurements>") -> dict[str, float]:
    """Measured latencies, arch -> ms, from their parsed JSON."""
    if not isinstance(data, dict):
        raise LatencyFileError(
            _problem(
                source,
                "<top level>",
                "<top level>",
                'a JSON object {"<arch>": ms, ...}',
                type(data).__name__,
            )
        )
    measurements = {}
    for arch, value in data.items():
        problem = explain_arch_error(arch)
        if problem is not None:
            raise LatencyFileError(
                _problem(
                    source, arch, "arch (the key)", f"a 37-character arch code ({problem})", arch
                )
            )
        measurements[arch] = _milliseconds(value, source, arch, "ms (the value)", allow_zero=False)
    if len(measurements) < MIN_MEASUREMENTS:
        raise LatencyFileError(
            f"{source}: {len(measurements)} measured archs; expected at least {MIN_MEASUREMENTS} "
            f"(the fit has {N_KINDS + 1} unknowns and is checked leave-one-out)"
        )
    return measurements


def read_measurements(path: Path) -> dict[str, float]:
    return parse_measurements(_load_json(Path(path), "latency measurements"), source=Path(path))


def measurements_bytes(measurements: dict[str, float]) -> bytes:
    return (
        json.dumps({a: round(ms, 4) for a, ms in measurements.items()}, indent=2) + "\n"
    ).encode()


def write_measurements(
    path: Path, measurements: dict[str, float], *, replace_any: bool = False
) -> None:
    outputs.write_outputs({Path(path): measurements_bytes(measurements)}, replace_any=replace_any)
