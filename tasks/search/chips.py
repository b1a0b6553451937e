"""Several chips in one search: each chip is a budget (and, for a latency budget, the
chip's latency table). The fits are made once; the search, the front and the report are
made per chip, and a summary compares the chips.

On the command line the n-th `--latency-table` goes with the n-th latency budget
(`--budget latency=300ms --latency-table a.json --budget latency=400ms --latency-table
b.json`); a chips file names them instead:

    [{"name": "phone", "budget": "latency=300ms", "latency_table": "phone.json"},
     {"name": "server", "budget": "params=70M"}]

A chip's name is its report folder under `--out`; without a chips file it is the latency
table's file name (without `.json`) or the budget (`params-60M`)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from tasks import paths
from tasks.errors import ParameterError

CHIP_FIELDS = ("name", "budget", "latency_table")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class ChipSpec:
    """One chip as the user gave it (checked later with the other search parameters)."""

    name: str
    budget: str
    latency_table: str | None


def _is_latency(budget: str) -> bool:
    return budget.split("=", 1)[0].strip().lower() == "latency"


def _default_name(budget: str, table: str | None) -> str:
    if table is not None:
        return Path(table).name.removesuffix(".json")
    return re.sub(r"[^A-Za-z0-9._-]", "-", budget.strip())


def _unique_names(names: list[str]) -> list[str]:
    """The names as given, a -2, -3 ... added to repeats (two chips with one table)."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}-{seen[name]}")
    return out


def pair_budgets_and_tables(budgets: list[str], tables: list[str]) -> list[ChipSpec]:
    """Chips from repeated --budget and --latency-table options: the n-th table goes with
    the n-th latency budget; as many tables as latency budgets."""
    if len(budgets) == 1 and len(tables) <= 1:  # one chip: today's single search, whose
        return [ChipSpec("", budgets[0], tables[0] if tables else None)]  # check explains
    latency_budgets = [b for b in budgets if _is_latency(b)]
    if len(tables) != len(latency_budgets):
        raise ParameterError(
            f"{len(latency_budgets)} latency budget(s) but {len(tables)} --latency-table "
            "option(s): give one table per latency budget, in the same order"
        )
    remaining = iter(tables)
    pairs = [(b, next(remaining) if _is_latency(b) else None) for b in budgets]
    names = _unique_names([_default_name(b, t) for b, t in pairs])
    return [ChipSpec(n, b, t) for n, (b, t) in zip(names, pairs, strict=True)]


def _chip_entry(entry: object, index: int, source: Path) -> ChipSpec:
    where = f"{source}: chip {index}"
    if not isinstance(entry, dict):
        raise ParameterError(f"{where}: expected an object with {', '.join(CHIP_FIELDS)}")
    unknown = sorted(set(entry) - set(CHIP_FIELDS))
    if unknown:
        raise ParameterError(
            f"{where}: unknown field {unknown[0]!r} (fields: {', '.join(CHIP_FIELDS)})"
        )
    name, budget, table = entry.get("name"), entry.get("budget"), entry.get("latency_table")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ParameterError(
            f"{where}, field name: expected a folder name of letters, digits, '.', '_' or '-', got {name!r}"
        )
    if not isinstance(budget, str):
        raise ParameterError(
            f"{where} ({name}), field budget: expected a budget such as params=60M, got {budget!r}"
        )
    if table is not None and not isinstance(table, str):
        raise ParameterError(
            f"{where} ({name}), field latency_table: expected a file path, got {table!r}"
        )
    if table is not None and not Path(table).is_absolute():
        table = str(source.parent / table)  # relative to the chips file
    return ChipSpec(name, budget, table)


def read_chips_file(path: str | Path) -> list[ChipSpec]:
    source = Path(path).expanduser()
    if not source.is_file():
        raise ParameterError(f"chips file {source} does not exist")
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ParameterError(f"{source}: not a JSON file ({exc})") from None
    if not isinstance(data, list) or not data:
        raise ParameterError(f"{source}: expected a non-empty JSON list of chips")
    chips = [_chip_entry(entry, i, source) for i, entry in enumerate(data, start=1)]
    names = [c.name for c in chips]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ParameterError(f"{source}: chip name {repeated[0]!r} is used twice")
    return chips


def as_list(value: str | list[str] | tuple[str, ...] | None) -> list[str]:
    """A flow or CLI parameter that may be one value or several."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return list(value)


def check_chip_searches(chips: list[ChipSpec], out: str | Path | None, check, **common) -> list:
    """Every chip's search parameters (`check` is search.parameters.check_search_parameters),
    every problem of every chip in one message. One chip keeps `out` (default: the search
    folder) as its report folder; several get a folder each under it, named after the chip."""
    if not chips:
        raise ParameterError("no budget given: --budget params=60M, macs=15G or latency=12ms")
    base = Path(out).expanduser() if out else paths.search_dir()
    runs, problems = [], []
    for chip in chips:
        chip_out = base if len(chips) == 1 else base / chip.name
        try:
            runs.append(
                check(budget=chip.budget, latency_table=chip.latency_table, out=chip_out, **common)
            )
        except ParameterError as exc:
            problems.append(f"chip {chip.name}: {exc}" if chip.name else str(exc))
    if problems:
        raise ParameterError("; ".join(problems))
    return runs


@dataclass(frozen=True)
class ChipSearches:
    """What one `ufo search` does: a search per chip (one chip: today's single search)."""

    runs: tuple  # search.parameters.SearchParameters, one per chip
    chips: tuple[str, ...]  # the chips' names ("" for a single search)
    out: Path  # the report folder (several chips: the summary, and a folder per chip)

    @property
    def several(self) -> bool:
        return len(self.runs) > 1


def check_search_request(
    budget: str | list[str],
    latency_table: str | list[str] | None,
    chips_file: str | Path | None,
    out: str | Path | None,
    check,
    **common,
) -> ChipSearches:
    """The chips (a chips file, or budgets paired with tables) and every chip's parameters,
    checked before any work; `check` is search.parameters.check_search_parameters. A chips
    file replaces the budget (whose default is always set)."""
    if chips_file is not None and as_list(latency_table):
        raise ParameterError("give either a chips file or --latency-table, not both")
    specs = (
        read_chips_file(chips_file)
        if chips_file is not None
        else pair_budgets_and_tables(as_list(budget), as_list(latency_table))
    )
    base = Path(out).expanduser() if out else paths.search_dir()
    runs = check_chip_searches(specs, base, check, **common)
    return ChipSearches(tuple(runs), tuple(s.name for s in specs), base)
