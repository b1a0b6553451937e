"""Search comparison on the real training file: the refined search against Once-for-All's
evolution and random search, at equal numbers of evaluations of the default predictor.

    .venv/bin/python bench/search_compare.py            # the full study (about 6-9 min here)
    .venv/bin/python bench/search_compare.py --quick    # smoke run (about 1 min)

The default predictor (DEFAULT_PREDICTOR) is fitted on all 500 archs of the real training file,
for market1501 and for all 8 tasks (objective "all": mean of standardised goodness).
Budgets: parameter counts at percentiles of the params of archs drawn as the training
set was (depth uniform, choices uniform), and a MACs budget at the median. For every
objective, budget and seed, each method gets the same number of distinct archs scored by
the full model; the table reports the best predicted goodness each reached (higher is
better; market1501 in the predictor's goodness units, "all" in mean standardised units).
OFA's evolution and random search are anytime, so one run per seed at the largest count
gives every smaller count as its prefix (tests/tasks/search/test_refine.py checks the
prefix property); the refined search plans with its count, so it runs once per count.

Also measured: the exact front's time per task for ridge (params, MACs and a made-up
latency table with non-integral ms terms), and archs scored per second per core by the
default predictor. Times are CPU seconds of this process (one BLAS thread), so other jobs on the
shared machine do not inflate them. Writes the markdown to stdout and to
bench/search_README_section.md (bench/update_readme.py copies it into bench/README.md)."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from schemas.costs import AdditiveCost, macs_cost, params_cost  # noqa: E402
from schemas.encodings import get_encoding  # noqa: E402
from schemas.search_space import RANK_FIELDS, TASKS, sample_archs  # noqa: E402
from tasks.files.reading import read_competition_file  # noqa: E402
from tasks.paths import shared_train_path  # noqa: E402
from tasks.predict.fitting import one_blas_thread_per_fit  # noqa: E402
from tasks.predict.predictors import DEFAULT_PREDICTOR, get_predictor_class, make_predictor  # noqa: E402
from tasks.search.baselines import run_evolution, run_random  # noqa: E402
from tasks.search.evaluator import Evaluator  # noqa: E402
from tasks.search.front import exact_front, quantise_additive_cost  # noqa: E402
from tasks.search.objective import build_objective  # noqa: E402
from tasks.search.refine import run_refine  # noqa: E402

OUT = ROOT / "bench" / "search_README_section.md"  # copied into bench/README.md
METHODS = {"refined": run_refine, "OFA evolution": run_evolution, "random": run_random}
ANYTIME = ("OFA evolution", "random")
# The ensemble's score of one arch moves in the 13th digit with the batch it is scored in
# (BLAS summation order): the same arch found by two methods counts as a tie.
TIE = 1e-9
# "all" costs 8 model calls per arch: fewer budgets, to keep the run short.
ALL_BUDGETS = ("params p10", "params p50", "params p90", "MACs p50")

# A made-up latency table (ms per layer kind, plus a fixed part): non-integral terms
# exercise the front's quantised cost sums; not a measurement.
STANDIN_LATENCY = AdditiveCost(
    "latency",
    "ms",
    1.37,
    (1.183, 1.052, 0.921, 1.101, 0.978, 0.846, 1.019, 0.893, 0.761),
    "made-up stand-in table",
)


def fit_predictors(frame, name: str, tasks) -> tuple[dict, float]:
    X = get_encoding("onehot").build(frame["arch"].tolist())
    started = time.process_time()
    # what the predictor learns from all eight tasks together (None for most), once
    shared = get_predictor_class(name).fit_shared(X, frame[list(RANK_FIELDS)].to_numpy(float))
    fitted = {
        task: make_predictor(name).fit(X, frame[field].to_numpy(dtype=np.float64), shared=shared)
        for task, field in zip(TASKS, RANK_FIELDS, strict=True)
        if task in tasks
    }
    return fitted, (time.process_time() - started) / len(fitted)


def budgets(quick: bool) -> list[tuple[str, AdditiveCost, float]]:
    archs = sample_archs(100_000, np.random.default_rng(0))
    params, macs = params_cost(), macs_cost()
    p_values, m_values = params.of_archs(archs), macs.of_archs(archs)
    levels = (50,) if quick else (10, 30, 50, 70, 90)
    out = [
        (
            f"params p{q} = {np.percentile(p_values, q) / 1e6:.1f} M",
            params,
            float(np.percentile(p_values, q)),
        )
        for q in levels
    ]
    out.append(
        (
            f"MACs p50 = {np.percentile(m_values, 50) / 1e9:.2f} G",
            macs,
            float(np.percentile(m_values, 50)),
        )
    )
    return out


def best_after(evaluator: Evaluator, counts: list[int]) -> dict[int, float]:
    running = np.maximum.accumulate(np.asarray(evaluator.values))
    return {n: float(running[min(n, len(running)) - 1]) for n in counts}


def compare(objective, budget_list, counts, seeds) -> tuple[list[dict], dict]:
    rows, seconds = [], {m: [] for m in METHODS}
    for label, cost, budget in budget_list:
        quantised = quantise_additive_cost(cost)
        best = {(m, n): [] for m in METHODS for n in counts}
        for seed in seeds:
            for method, run in METHODS.items():
                plans = [max(counts)] if method in ANYTIME else counts
                for n in plans:
                    evaluator = Evaluator(objective, n)
                    started = time.process_time()
                    run(evaluator, quantised, budget, np.random.default_rng(seed))
                    seconds[method].append((time.process_time() - started) / evaluator.n_evals)
                    reached = best_after(evaluator, counts if method in ANYTIME else [n])
                    for k, value in reached.items():
                        best[(method, k)].append(value)
        for n in counts:
            rows.append({"budget": label, "evals": n, **{m: best[(m, n)] for m in METHODS}})
    return rows, seconds


def format_rows(name: str, rows: list[dict], n_starts: int) -> list[str]:
    lines = [
        f"**Objective `{name}`** (best predicted goodness, mean over {n_starts} seeds, worst seed in brackets; higher is better)",
        "",
        "| budget | evals | refined | OFA evolution | random | refined ≥ evolution |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        cells = [f"{np.mean(row[m]):.4f} ({np.min(row[m]):.4f})" for m in METHODS]
        wins = sum(r >= e - TIE for r, e in zip(row["refined"], row["OFA evolution"], strict=True))
        lines.append(
            f"| {row['budget']} | {row['evals']:,} | "
            + " | ".join(cells)
            + f" | {wins}/{n_starts} |"
        )
    return lines + [""]


def front_timings(frame, repeats: int) -> list[str]:
    ridge, fit_seconds = fit_predictors(frame, "ridge", TASKS)
    train = frame["arch"].tolist()
    lines = [
        "**Exact front per task, ridge** (whole space, median of "
        f"{repeats} runs; ridge fit {fit_seconds:.2f} s per task)",
        "",
        "| cost | front points (mean over tasks) | seconds per task (median) | slowest task |",
        "|---|---|---|---|",
    ]
    for cost in (params_cost(), macs_cost(), STANDIN_LATENCY):
        times, sizes = [], []
        for task in TASKS:
            additive = build_objective(ridge, train, task).additive()
            runs = []
            for _ in range(repeats):
                started = time.process_time()
                front = exact_front(additive, cost)
                runs.append(time.process_time() - started)
            times.append(float(np.median(runs)))
            sizes.append(len(front))
        name = f"{cost.name} ({cost.source})" if cost.name == "latency" else cost.name
        lines.append(
            f"| {name} | {np.mean(sizes):.0f} | {np.median(times):.4f} | {max(times):.4f} |"
        )
    return lines + [""]


def scoring_rates(objectives: dict) -> list[str]:
    archs = sample_archs(20_000, np.random.default_rng(1))
    lines = ["**Archs scored per second per core** (one BLAS thread, batches of 20,000)", ""]
    for name, objective in objectives.items():
        started = time.process_time()
        objective.goodness(archs)
        rate = len(archs) / (time.process_time() - started)
        lines.append(f"- `{DEFAULT_PREDICTOR}`, objective `{name}`: {rate:,.0f} archs/s")
    return lines + [""]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 1 budget pair, 1 seed, small counts"
    )
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    one_blas_thread_per_fit()
    started, cpu_started = time.perf_counter(), time.process_time()
    frame, _ = read_competition_file(shared_train_path())
    train = frame["arch"].tolist()
    tasks = ("market1501",) if args.quick else TASKS
    ensemble, fit_seconds = fit_predictors(frame, DEFAULT_PREDICTOR, tasks)
    objectives = {"market1501": build_objective(ensemble, train, "market1501")}
    if not args.quick:
        objectives["all"] = build_objective(ensemble, train, "all")
    counts = [200, 1000] if args.quick else [500, 2000, 10_000]
    seeds = list(range(1 if args.quick else args.seeds))
    budget_list = budgets(args.quick)

    lines = [
        "## Search: refined vs OFA evolution vs random, at equal evaluations",
        "",
        f"Real training file, `{DEFAULT_PREDICTOR}` fitted on all 500 archs "
        f"({fit_seconds:.1f} s per task). Budget percentiles are over the params/MACs of "
        "100,000 archs drawn as the training set was. An evaluation = one distinct arch "
        "scored by the full model; every method's candidates are within the budget.",
        "",
    ]
    all_seconds = {m: [] for m in METHODS}
    for name, objective in objectives.items():
        chosen = [b for b in budget_list if name != "all" or b[0].split(" =")[0] in ALL_BUDGETS]
        rows, seconds = compare(objective, chosen, counts, seeds)
        lines += format_rows(name, rows, len(seeds))
        for m in METHODS:
            all_seconds[m] += seconds[m]
    lines.append(
        "CPU time per evaluation (mean ms, model calls and search overhead included): "
        + ", ".join(f"{m} {1e3 * np.mean(s):.3f}" for m, s in all_seconds.items())
    )
    lines.append("")
    lines += front_timings(frame, repeats=1 if args.quick else 5)
    lines += scoring_rates(objectives)
    lines.append(
        f"Whole bench: {time.perf_counter() - started:.0f} s wall, "
        f"{time.process_time() - cpu_started:.0f} s CPU, on a shared 2-core machine."
    )
    text = "\n".join(lines) + "\n"
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
