"""The search report: picks and front as records, written as JSON, CSV and a plot.

Every record carries what a deployment needs (the arch code, its decoded per-layer
config and the supernet's own `set_sample_config` dict, schemas/supernet.py), its costs
(params and MACs always, latency when a table was given) and the predicted goodness: the
objective searched (named in words when the objective spec is given) and each task's own
(higher is better; see `goodness` in tasks/predict/predictors/base.py)."""

from __future__ import annotations

import csv
import io as text_io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from schemas.costs import AdditiveCost, layer_config, macs_cost, params_cost
from schemas.objectives import describe_objective
from schemas.search_space import decode_arch
from schemas.supernet import supernet_config
from tasks.files.atomic import write_bytes_atomic
from tasks.safety import reports
from tasks.safety.outputs import REPLACE_HINT_CLI

# decision.json: the best measured arch within the budget beside the best unmeasured pick
# (tasks/search/decision.py)
REPORT_FILES = (
    "picks.json",
    "picks.csv",
    "front.json",
    "front.csv",
    "front.png",
    "decision.json",
)


@dataclass(frozen=True)
class ScoredArchs:
    """Archs with their predicted goodness: the objective and every task's, and where
    computed, the predictive sd of each (tasks/search/objective.py, `objective_sd`)."""

    archs: list[str]
    objective: np.ndarray  # (n,)
    per_task: dict[str, np.ndarray]  # task -> (n,)
    sd: np.ndarray | None = None  # (n,) the objective's predictive sd
    sd_per_task: dict[str, np.ndarray] | None = None  # task -> (n,)


def arch_records(
    scored: ScoredArchs,
    image_size: int,
    latency: AdditiveCost | None,
    objective: str | None = None,
) -> list[dict]:
    """One record per arch, in order; `objective` (a spec) adds what `predicted` means."""
    params = params_cost(image_size).of_archs(scored.archs)
    macs = macs_cost(image_size).of_archs(scored.archs)
    lat = latency.of_archs(scored.archs) if latency is not None else None
    records = []
    for i, arch in enumerate(scored.archs):
        record = {
            "rank": i + 1,
            "arch": arch,
            "depth": decode_arch(arch).depth,
            "params": int(params[i]),
            "macs": int(macs[i]),
        }
        if lat is not None:
            record["latency_ms"] = round(float(lat[i]), 4)
        if objective is not None:
            record["objective"] = describe_objective(objective)
        record["predicted"] = round(float(scored.objective[i]), 6)
        if scored.sd is not None:
            record["predicted_sd"] = round(float(scored.sd[i]), 6)
        record["predicted_per_task"] = {
            task: round(float(values[i]), 6) for task, values in scored.per_task.items()
        }
        if scored.sd_per_task is not None:
            record["sd_per_task"] = {
                task: round(float(values[i]), 6) for task, values in scored.sd_per_task.items()
            }
        record["layers"] = layer_config(arch)
        record["supernet_config"] = supernet_config(arch)
        records.append(record)
    return records


NESTED_FIELDS = ("predicted_per_task", "sd_per_task", "layers", "supernet_config")


def _flat_row(record: dict) -> dict:
    """A record as one CSV row, its fields in order: the per-task fields become columns
    (predicted_<task>, sd_<task>), the layers a compact string to read, and the supernet
    config, which a program passes on, one-line JSON."""
    row = {}
    for key, value in record.items():
        if key == "predicted_per_task":
            row.update({f"predicted_{t}": v for t, v in value.items()})
        elif key == "sd_per_task":
            row.update({f"sd_{t}": v for t, v in value.items()})
        elif key == "layers":
            row[key] = " ".join(f"{x['heads']}h/{x['mlp_ratio']}" for x in value)
        elif key == "supernet_config":
            row[key] = json.dumps(value, separators=(",", ":"))
        else:
            row[key] = value
    return row


def csv_bytes(records: list[dict]) -> bytes:
    """Flat CSV of records (`_flat_row`), with a header; empty for no records."""
    rows = [_flat_row(record) for record in records]
    buffer = text_io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return buffer.getvalue().encode()


def _json_bytes(content: list | dict | None) -> bytes:
    return (json.dumps(content, indent=1) + "\n").encode()


def goodness_label(objective: str | None = None) -> str:
    """The plot's goodness axis: what is predicted, and which way is better."""
    if objective is None:
        return "predicted goodness (higher is better)"
    return f"predicted goodness: {describe_objective(objective)}\n(higher is better)"


def plot_front(
    path: Path,
    cost: AdditiveCost,
    front: ScoredArchs,
    picks: ScoredArchs,
    labelled: ScoredArchs,
    budget_limit: float,
    title: str,
    objective: str | None = None,
) -> None:
    """Predicted goodness against cost: the front as a step line with its ± 1 sd band,
    the labelled archs (at the model's own score for them) as dots, the picks marked with
    their sd, the budget as a line.
    Given the objective spec, the goodness axis says in words what it measures."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scale, unit = {"params": (1e6, "M params"), "macs": (1e9, "G MACs")}.get(
        cost.name, (1.0, cost.unit)
    )
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    ax.scatter(
        cost.of_archs(labelled.archs) / scale,
        labelled.objective,
        s=8,
        c="0.6",
        label=f"labelled archs ({len(labelled.archs)})",
    )
    ax.step(
        cost.of_archs(front.archs) / scale,
        front.objective,
        where="post",
        color="tab:blue",
        label=f"Pareto front ({len(front.archs)} points)",
    )
    if front.sd is not None:  # the model's own uncertainty about the front
        ax.fill_between(
            cost.of_archs(front.archs) / scale,
            front.objective - front.sd,
            front.objective + front.sd,
            step="post",
            color="tab:blue",
            alpha=0.15,
            linewidth=0,
            label="front ± 1 predicted sd",
        )
    if picks.sd is not None:
        ax.errorbar(
            cost.of_archs(picks.archs) / scale,
            picks.objective,
            yerr=picks.sd,
            fmt="none",
            ecolor="tab:red",
            alpha=0.5,
            linewidth=1,
        )
    ax.scatter(
        cost.of_archs(picks.archs) / scale,
        picks.objective,
        marker="*",
        s=90,
        color="tab:red",
        zorder=3,
        label=f"picks ({len(picks.archs)})",
    )
    ax.axvline(budget_limit / scale, color="tab:red", linestyle="--", linewidth=1, label="budget")
    ax.set_xlabel(f"cost ({unit})")
    ax.set_ylabel(goodness_label(objective))
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    buffer = text_io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    write_bytes_atomic(path, buffer.getvalue())


def write_report(
    out_dir: Path,
    picks: list[dict],
    front: list[dict],
    plot: dict,
    *,
    decision: dict | None = None,
    replace_any: bool = False,
    hint: str = REPLACE_HINT_CLI,
) -> dict[str, str]:
    """Write the report files as one unit; returns name -> path. `decision`: the
    content of decision.json (null when the search was not given the measurements).

    All of them are rendered first, into a staging folder, and then swapped in by one rename
    (tasks/safety/reports.py: a reader sees the old report or the new one, never a mix,
    whatever moment the writer is killed at; concurrent writers commit one at a time).
    A failure while rendering (a full disk, a plotting error) leaves the previous report
    whole. Unless `replace_any` (--force), a report name holding a file ufo did not
    write is refused (OutputError) and nothing is replaced; the ledger records the new
    files, so the next run may replace them."""
    out_dir = Path(out_dir)
    with reports.staged_report(
        out_dir, REPORT_FILES, replace_any=replace_any, hint=hint
    ) as staging:
        for name, records in (("picks", picks), ("front", front)):
            write_bytes_atomic(staging / f"{name}.json", _json_bytes(records))
            write_bytes_atomic(staging / f"{name}.csv", csv_bytes(records))
        write_bytes_atomic(staging / "decision.json", _json_bytes(decision))
        plot_front(staging / "front.png", **plot)
    return {name: str(out_dir / name) for name in REPORT_FILES}
