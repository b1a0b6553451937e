"""The summary of a search over several chips, written beside the chips' own reports:
`chips.json` / `chips.csv` (one row per chip: its budget, best pick, the pick's cost on
that chip and its predicted score) and `fronts.png` (every chip's front on one plot, cost
as a share of the chip's own budget, so chips of different units share one axis)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from schemas.supernet import supernet_config
from tasks.files.atomic import write_bytes_atomic
from tasks.search.budget import format_cost

SUMMARY_FILES = ("chips.json", "chips.csv", "fronts.png")


def chip_rows(outcomes: list) -> list[dict]:
    """One summary row per chip (SearchOutcome), in the order the chips were given."""
    rows = []
    for outcome in outcomes:
        best = outcome.picks.archs[0]
        cost = outcome.best_cost()
        rows.append(
            {
                "chip": outcome.chip,
                "budget": str(outcome.budget),
                "best_pick": best,
                "cost": round(cost, 6),
                "cost_text": format_cost(cost, outcome.budget.metric),
                "predicted": round(float(outcome.picks.objective[0]), 6),
                **(
                    {"predicted_sd": round(float(outcome.picks.sd[0]), 6)}
                    if outcome.picks.sd is not None
                    else {}
                ),
                "report": outcome.chip,
                "supernet_config": supernet_config(best),
            }
        )
    return rows


def summary_table(rows: list[dict]) -> str:
    """The console's table of the chips: chip, budget, best pick, its cost, predicted."""
    # columns as wide as their longest entry: chip names come from table file names
    chip = max(16, *(len(row["chip"]) for row in rows))
    budget = max(16, *(len(row["budget"]) for row in rows))
    header = f"  {'chip':<{chip}} {'budget':<{budget}} {'best pick':<37}  {'cost':>12}  predicted"
    lines = [header]
    for row in rows:
        lines.append(
            f"  {row['chip']:<{chip}} {row['budget']:<{budget}} {row['best_pick']:<37}  "
            f"{row['cost_text']:>12}  {row['predicted']:+.3f}"
        )
    return "\n".join(lines)


def _csv_bytes(rows: list[dict]) -> bytes:
    buffer = io.StringIO()
    flat = [
        {**r, "supernet_config": json.dumps(r["supernet_config"], separators=(",", ":"))}
        for r in rows
    ]
    writer = csv.DictWriter(buffer, fieldnames=list(flat[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(flat)
    return buffer.getvalue().encode()


def plot_fronts(path: Path, outcomes: list, objective_label: str) -> None:
    """Every chip's front: predicted goodness against cost / the chip's budget."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    for outcome in outcomes:
        share = outcome.cost.of_archs(outcome.front.archs) / outcome.budget.limit
        line = ax.step(
            share, outcome.front.objective, where="post", label=f"{outcome.chip} ({outcome.budget})"
        )
        ax.scatter([outcome.best_cost() / outcome.budget.limit], outcome.picks.objective[:1],
                   marker="*", s=90, color=line[0].get_color(), zorder=3)  # fmt: skip
    ax.axvline(1.0, color="0.3", linestyle="--", linewidth=1, label="each chip's budget")
    ax.set_xlabel("cost / the chip's budget")
    ax.set_ylabel(objective_label)
    ax.set_title(f"{len(outcomes)} chips: fronts and best picks (stars)", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    write_bytes_atomic(path, buffer.getvalue())


def write_chips_summary(outcomes: list, out_dir: Path, objective_label: str) -> dict[str, str]:
    rows = chip_rows(outcomes)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(out_dir / "chips.json", (json.dumps(rows, indent=1) + "\n").encode())
    write_bytes_atomic(out_dir / "chips.csv", _csv_bytes(rows))
    plot_fronts(out_dir / "fronts.png", outcomes, objective_label)
    return {name: str(out_dir / name) for name in SUMMARY_FILES}
