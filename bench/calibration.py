"""How sure is each prediction (issue 18, item 2): is the predictive sd of every family
calibrated on archs it was not fitted on?

    .venv/bin/python bench/calibration.py

Protocol: the selection bench's reporting folds (`bench.selection.cv_splits`: `kfold:5`,
seeds 0, 1, 2; 15 folds of 100 held-out archs) on the real training file. Per family,
fold and task: fit on the fold's training rows (shared statistics from those rows only),
`predict_with_sd` on the held-out rows, and compare with each held-out arch's true
target on the scale the model predicts (see `true_targets`). Reported per family and
task: the share of held-out archs within +-1 and +-2 predicted sd (68 % and 95 % for a
calibrated Gaussian sd), the RMS of error / sd (1 when calibrated), and the Spearman
correlation between |error| and sd within each fold (does a larger sd flag a larger
error?), averaged over folds. Writes bench/out/calibration.json (git-ignored) and prints
the markdown tables that bench/README.md shows."""

from __future__ import annotations

import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.selection import cv_splits, load_train  # noqa: E402  (the reporting folds)
from schemas.encodings import get_encoding  # noqa: E402
from schemas.search_space import TASKS  # noqa: E402
from tasks.predict.evaluate import fold_shared  # noqa: E402
from tasks.predict.predictors import DEFAULT_PREDICTOR, PREDICTORS, make_predictor  # noqa: E402

OUT = ROOT / "bench" / "out" / "calibration.json"
# The default first; then the rest in registry order, the slow ensembles early so that
# the two workers finish together.
FAMILIES = tuple(dict.fromkeys((DEFAULT_PREDICTOR, "ensemble", *PREDICTORS)))


def true_targets(model, y_train: np.ndarray, y_held_out: np.ndarray) -> np.ndarray:
    """Each held-out arch's true target on the scale of the model's scores.

    A normal-score family is fitted on Phi^-1(r / (n + 1)) of the ranks r among the
    fold's n training rows, so the truth for a held-out arch is its rank among those same
    training rows (half-way between its neighbours), through the same transform: not the
    normal score among all 500, a scale the model never saw (the two differ by the
    sampling noise of which 400 archs were drawn, an error no sd can own). GP-NAS is
    fitted on the raw ranks, so its truth is the raw rank. The ensembles z-score their
    members, so their truth is mapped on through `target_in_score_units`."""
    return model.target_in_score_units(type(model).held_out_target(y_train, y_held_out))


def fold_errors(job: tuple[str, int]) -> dict:
    """One family on one fold, all tasks: held-out errors and sds, shape (tasks, archs).
    One BLAS thread per worker (2 workers on 2 cores), as in bench/selection.py."""
    from threadpoolctl import threadpool_limits

    name, split_no = job
    archs, ranks, _ = load_train()
    fold, train, held_out = cv_splits(len(archs))[split_no]
    X = get_encoding(PREDICTORS[name].encoding).build(archs)
    errors, sds = np.zeros((len(TASKS), len(held_out))), np.zeros((len(TASKS), len(held_out)))
    started = time.perf_counter()
    with threadpool_limits(limits=1):
        shared = fold_shared(name, X, ranks, train)
        for t in range(len(TASKS)):
            model = make_predictor(name).fit(X[train], ranks[train, t], shared=shared)
            scores, sds[t] = model.predict_with_sd(X[held_out])
            errors[t] = scores - true_targets(model, ranks[train, t], ranks[held_out, t])
    seconds = time.perf_counter() - started
    return {"name": name, "fold": fold, "errors": errors, "sds": sds, "seconds": seconds}


def calibration_metrics(errors: np.ndarray, sds: np.ndarray) -> dict:
    """errors and sds of shape (folds, archs) for one family and task."""
    z = np.abs(errors) / sds
    rho = [spearmanr(np.abs(e), s).statistic for e, s in zip(errors, sds, strict=True)]
    return {
        "within_1sd": float(np.mean(z <= 1.0)),
        "within_2sd": float(np.mean(z <= 2.0)),
        "rms_error_over_sd": float(np.sqrt(np.mean(z**2))),
        "spearman_abs_error_sd": float(np.mean(rho)),
        "median_sd": float(np.median(sds)),  # on the family's score scale
        # how much the sd varies between held-out archs of one fit (90th / 10th pct)
        "sd_p90_over_p10": float(np.mean(np.percentile(sds, 90, 1) / np.percentile(sds, 10, 1))),
    }


def run_folds() -> tuple[dict, dict]:
    """{family: (errors, sds) of shape (tasks, folds, archs)} and run facts."""
    n_folds = len(cv_splits(len(load_train()[0])))
    jobs = [(name, k) for name in FAMILIES for k in range(n_folds)]
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(fold_errors, jobs))
    collected, seconds = {}, dict.fromkeys(FAMILIES, 0.0)
    for name in FAMILIES:
        mine = [r for r in results if r["name"] == name]
        seconds[name] = sum(r["seconds"] for r in mine)
        collected[name] = tuple(np.stack([r[k] for r in mine], axis=1) for k in ("errors", "sds"))
    run = {
        "date": date.today().isoformat(),
        "cpus": len(os.sched_getaffinity(0)),
        "wall_s": time.perf_counter() - started,
        "load_avg_1min": os.getloadavg()[0],
        "fit_predict_s": seconds,
        "n_folds": n_folds,
    }
    return collected, run


def summarise(collected: dict) -> dict:
    """Metrics per family and task, and per family over all tasks (shares pooled, the
    Spearman and sd spread averaged over tasks)."""
    out = {}
    for name, (errors, sds) in collected.items():
        per_task = {task: calibration_metrics(errors[t], sds[t]) for t, task in enumerate(TASKS)}
        overall = calibration_metrics(
            errors.reshape(-1, errors.shape[-1]), sds.reshape(-1, sds.shape[-1])
        )
        out[name] = {"all_tasks": overall, "tasks": per_task}
    return out


def _label(name: str) -> str:
    return f"**`{name}`** (default)" if name == DEFAULT_PREDICTOR else f"`{name}`"


def tables(summary: dict) -> str:
    lines = [
        "| family | within +-1 sd (68 %) | within +-2 sd (95 %) | RMS error / sd | Spearman(abs error, sd) | sd p90 / p10 |",
        "|---|---|---|---|---|---|",
    ]
    for name, entry in summary.items():
        m = entry["all_tasks"]
        lines.append(
            f"| {_label(name)} | {m['within_1sd']:.1%} | {m['within_2sd']:.1%}"
            f" | {m['rms_error_over_sd']:.2f} | {m['spearman_abs_error_sd']:+.3f} | {m['sd_p90_over_p10']:.3f} |"
        )
    lines += [
        "",
        "Per task: within +-1 sd / within +-2 sd / Spearman(abs error, sd).",
        "",
        "| family | " + " | ".join(TASKS) + " |",
        "|---" * (len(TASKS) + 1) + "|",
    ]
    for name, entry in summary.items():
        cells = [
            f"{m['within_1sd']:.0%} / {m['within_2sd']:.0%} / {m['spearman_abs_error_sd']:+.2f}"
            for m in (entry["tasks"][task] for task in TASKS)
        ]
        lines.append(f"| {_label(name)} | " + " | ".join(cells) + " |")
    default = summary[DEFAULT_PREDICTOR]["tasks"]
    median_sd = " | ".join(f"{default[task]['median_sd']:.3f}" for task in TASKS)
    lines.append(f"| *median sd of `{DEFAULT_PREDICTOR}` (score units)* | {median_sd} |")
    return "\n".join(lines)


def main() -> None:
    collected, run = run_folds()
    summary = summarise(collected)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"run": run, "families": summary}, indent=1))
    sys.stdout.write(tables(summary) + "\n\n")
    fits = ", ".join(f"`{n}` {s:.0f} s" for n, s in run["fit_predict_s"].items())
    sys.stdout.write(
        f"Measured {run['date']} on {run['cpus']} CPUs, two worker processes with one BLAS"
        f" thread each; wall time {run['wall_s']:.0f} s; 1-min load average"
        f" {run['load_avg_1min']:.1f} at the end. Fit + predict_with_sd time summed over"
        f" {run['n_folds']} folds x 8 tasks: {fits}.\n"
    )


if __name__ == "__main__":
    main()
