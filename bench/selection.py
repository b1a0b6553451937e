"""Budgeted-selection study (issue 7, item 7): is the predicted best sub-network within a
budget any good, judged by the true ranks of the real training file?

    .venv/bin/python bench/selection.py                 # fits (reusing cached folds), report
    .venv/bin/python bench/selection.py --refit         # ignore the cached fold predictions
    .venv/bin/python bench/selection.py --report-only   # section + plot from bench/out only

Protocol: 5-fold x 3 CV over the 500 labelled archs (`holdout_splits`, `kfold:5`, seeds
0, 1, 2; 15 folds). For each fold and task a predictor is fitted once on the fold's
training rows and scores the fold's 100 held-out archs. For each budget, at the 10th, 20th,
..., 90th percentile of the held-out archs' cost (params, then MACs), every method picks
one held-out arch within budget (cost <= budget) and is scored by the pick's TRUE rank.
Regret = true rank of the pick minus the true rank of the truly best held-out arch within
budget, in the file's global ranks (0 = best of all 500, so a regret of 5 means five of the
500 labelled archs sit between the pick and the best affordable one). Methods: the
predictors, "largest within budget" (highest cost that fits) and random (exact expectation
over the archs within budget). Ties in a method's score are broken uniformly at random and
counted as an exact expectation, never sampled.

Writes bench/selection_README_section.md, bench/selection_regret.png, and the fitted fold
predictions in bench/out/selection/ (git-ignored) so the report can be regenerated."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from schemas.costs import macs_cost, params_cost  # noqa: E402
from schemas.encodings import get_encoding  # noqa: E402
from schemas.search_space import RANK_FIELDS, TASKS  # noqa: E402
from tasks.paths import shared_train_path  # noqa: E402
from tasks.predict.evaluate import Holdout, fold_shared, holdout_splits  # noqa: E402
from tasks.predict.predictors import DEFAULT_PREDICTOR, PREDICTORS, make_predictor  # noqa: E402

OUT_DIR = ROOT / "bench" / "out" / "selection"
SECTION = ROOT / "bench" / "selection_README_section.md"
PLOT = ROOT / "bench" / "selection_regret.png"
KFOLD_SEEDS = (0, 1, 2)
N_FOLDS = 5
PERCENTILES = tuple(range(10, 100, 10))
# ensemble and shared_relevance: issue 12 asks for both, whichever is the default
PREDICTOR_NAMES = tuple(
    dict.fromkeys((DEFAULT_PREDICTOR, "ensemble", "shared_relevance", "gpnas", "ridge"))
)
SLOW = ("ensemble", "shared_relevance")
LARGEST, RANDOM = "largest within budget", "random"
COSTS = {"params": params_cost(), "macs": macs_cost()}


# ---------------------------------------------------------------- the core computation


def pick_regret(
    scores: np.ndarray, true_ranks: np.ndarray, allowed: np.ndarray
) -> tuple[float, float]:
    """Regret and hit rate of picking, among the `allowed` archs, the one with the LOWEST
    score. Scores are ordered like ranks (lower = predicted better), the direction of
    every predictor's predict() here: rank 0 is the best, so the pick is an argmin.
    Archs tied at the lowest score are picked uniformly at random; both figures are the
    exact expectation over that tie. Regret = true rank of the pick minus the lowest
    true rank among the allowed archs; hit = the pick is that truly best arch."""
    scores, true_ranks = np.asarray(scores, float), np.asarray(true_ranks, float)
    allowed = np.asarray(allowed, bool)
    if not allowed.any():
        raise ValueError("no arch within budget")
    s, r = scores[allowed], true_ranks[allowed]
    best = r.min()
    # argmin, not argmax: predict() scores order like ranks (higher = worse). There is no
    # goodness() helper in tasks/predict/predictors/base.py yet; once there is, use it here.
    chosen = r[s == s.min()]
    return float(chosen.mean() - best), float((chosen == best).mean())


def method_scores(predicted: dict[str, np.ndarray], cost: np.ndarray) -> dict[str, np.ndarray]:
    """Every method as rank-ordered scores (lower = picked first): the predictors' own
    scores, the negated cost for "largest within budget", and one constant for random
    (all tied, so pick_regret averages over every arch within budget)."""
    cost = np.asarray(cost, float)
    return {**predicted, LARGEST: -cost, RANDOM: np.zeros_like(cost)}


def budget_regrets(
    scores: dict[str, np.ndarray],
    true_ranks: np.ndarray,
    cost: np.ndarray,
    percentiles: tuple[int, ...] = PERCENTILES,
) -> tuple[np.ndarray, np.ndarray]:
    """(regret, hit) arrays of shape (methods, budgets), methods in `scores` order; the
    budgets are the given percentiles of `cost` (numpy's linear interpolation), and an
    arch is within budget when its cost <= the budget."""
    cost = np.asarray(cost, float)
    budgets = np.percentile(cost, percentiles)
    regret = np.zeros((len(scores), len(budgets)))
    hit = np.zeros_like(regret)
    for b, budget in enumerate(budgets):
        allowed = cost <= budget
        for m, s in enumerate(scores.values()):
            regret[m, b], hit[m, b] = pick_regret(s, true_ranks, allowed)
    return regret, hit


# ---------------------------------------------------------------- fitting (cached)


def load_train() -> tuple[list[str], np.ndarray, str]:
    path = shared_train_path()
    raw_bytes = path.read_bytes()
    raw = json.loads(raw_bytes)
    keys = sorted(raw, key=lambda k: int(k.removeprefix("arch")))
    ranks = np.array([[raw[k][f] for f in RANK_FIELDS] for k in keys], dtype=float)
    return [raw[k]["arch"] for k in keys], ranks, hashlib.sha256(raw_bytes).hexdigest()


def cv_splits(n: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """The quality bench's CV folds: kfold:5 with seeds 0, 1, 2, via holdout_splits."""
    return [
        (f"r{s}f{i}", tr, te)
        for s in KFOLD_SEEDS
        for i, (tr, te) in enumerate(holdout_splits(n, Holdout("kfold", N_FOLDS), seed=s))
    ]


def cache_path(name: str, fold: str) -> Path:
    return OUT_DIR / f"{name}-{fold}.npz"


def fit_fold(job: tuple[str, int, str]) -> dict:
    """One predictor on one fold: fit once per task on the fold's training rows, score
    the held-out rows; the scores serve every budget. One BLAS thread (2 workers, 2 cores)."""
    from threadpoolctl import threadpool_limits

    name, split_no, digest = job
    archs, ranks, _ = load_train()
    fold, tr, te = cv_splits(len(archs))[split_no]
    X = get_encoding(PREDICTORS[name].encoding).build(archs)
    started = time.perf_counter()
    scores = np.zeros((len(TASKS), len(te)))
    with threadpool_limits(limits=1):
        shared = fold_shared(name, X, ranks, tr)  # the fold's training rows only
        for t in range(len(TASKS)):
            model = make_predictor(name, seed=0).fit(X[tr], ranks[tr, t], shared=shared)
            scores[t] = model.predict(X[te])
    seconds = time.perf_counter() - started
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    np.savez(cache_path(name, fold), scores=scores, test_idx=te, digest=digest, seconds=seconds)
    return {"name": name, "fold": fold, "seconds": seconds}


def cached(name: str, fold: str, te: np.ndarray, digest: str) -> dict | None:
    path = cache_path(name, fold)
    if not path.exists():
        return None
    with np.load(path) as z:
        if str(z["digest"]) != digest or not np.array_equal(z["test_idx"], te):
            return None
        return {"scores": z["scores"], "seconds": float(z["seconds"])}


def fit_all(refit: bool) -> dict:
    archs, _, digest = load_train()
    splits = cv_splits(len(archs))
    jobs = [
        (name, k, digest)
        for name in PREDICTOR_NAMES
        for k, (fold, _, te) in enumerate(splits)
        if refit or cached(name, fold, te, digest) is None
    ]
    started = time.perf_counter()
    if jobs:
        # the ensembles' jobs first: the longest ones, so the two workers finish together
        jobs.sort(key=lambda j: j[0] not in SLOW)
        with ProcessPoolExecutor(max_workers=2) as pool:
            for r in pool.map(fit_fold, jobs):
                sys.stdout.write(f"fitted {r['name']} {r['fold']} in {r['seconds']:.1f} s\n")
    run_file = OUT_DIR / "run.json"
    if not jobs and run_file.exists():  # nothing refitted: keep the figures of the fitting run
        return json.loads(run_file.read_text())
    run = {
        "fitted_jobs": len(jobs),
        "wall_s": time.perf_counter() - started,
        "date": date.today().isoformat(),
        "cpus": len(os.sched_getaffinity(0)),
        "load_avg_1min": os.getloadavg()[0],
    }
    run_file.write_text(json.dumps(run, indent=1))
    return run


# ---------------------------------------------------------------- evaluation and report


def evaluate() -> dict:
    """regret/hit arrays of shape (cost kind, fold, task, method, budget) from the cache."""
    archs, ranks, digest = load_train()
    splits = cv_splits(len(archs))
    costs = {k: c.of_archs(archs) for k, c in COSTS.items()}
    methods = [*PREDICTOR_NAMES, LARGEST, RANDOM]
    shape = (len(COSTS), len(splits), len(TASKS), len(methods), len(PERCENTILES))
    regret, hit = np.zeros(shape), np.zeros(shape)
    n_within = np.zeros((len(COSTS), len(splits), len(PERCENTILES)))
    fit_seconds = dict.fromkeys(PREDICTOR_NAMES, 0.0)
    for f, (fold, _, te) in enumerate(splits):
        predicted = {}
        for name in PREDICTOR_NAMES:
            entry = cached(name, fold, te, digest)
            if entry is None:
                raise SystemExit(
                    f"no cached predictions for {name} {fold}; run without --report-only"
                )
            predicted[name] = entry["scores"]
            fit_seconds[name] += entry["seconds"]
        for c, cost in enumerate(costs.values()):
            budgets = np.percentile(cost[te], PERCENTILES)
            n_within[c, f] = (cost[te][None, :] <= budgets[:, None]).sum(axis=1)
            for t in range(len(TASKS)):
                scores = method_scores({n: p[t] for n, p in predicted.items()}, cost[te])
                regret[c, f, t], hit[c, f, t] = budget_regrets(scores, ranks[te, t], cost[te])
    return {
        "methods": methods,
        "regret": regret,
        "hit": hit,
        "n_within": n_within,
        # how much size alone says: Kendall tau of cost vs true rank over all labelled archs
        "size_tau": {
            k: [float(kendalltau(cost, ranks[:, t]).statistic) for t in range(len(TASKS))]
            for k, cost in costs.items()
        },
        "fit_seconds": fit_seconds,
        "n_folds": len(splits),
        "n_test": len(splits[0][2]),
    }


def _mark(name: str) -> str:
    if name == DEFAULT_PREDICTOR:
        return f"**`{name}`** (default)"
    return f"`{name}`" if name in PREDICTORS else name


def section(ev: dict, run: dict) -> str:
    methods, regret, hit = ev["methods"], ev["regret"], ev["hit"]
    m_def, m_large = methods.index(DEFAULT_PREDICTOR), methods.index(LARGEST)
    n_folds = ev["n_folds"]
    lines = [
        "## Budgeted selection (measured by `bench/selection.py`)",
        "",
        "Is the predicted best sub-network within a budget any good? Real training file, 500"
        f" archs; 5-fold x {len(KFOLD_SEEDS)} CV (`kfold:5` seeds"
        f" {', '.join(map(str, KFOLD_SEEDS))}, {n_folds} folds of {ev['n_test']} held-out archs,"
        " the quality bench's folds). Each predictor is fitted once per fold and task on the"
        " fold's training rows only. Budgets: the 10th, 20th, ..., 90th percentiles of the"
        " held-out archs' cost (params, or MACs at 256 px, from `schemas/costs.py`); an arch is"
        " within budget when its cost <= the budget. Each method picks one held-out arch"
        " within budget: a predictor its lowest predicted score (scores order like ranks, 0 ="
        " best); *largest within budget* the highest-cost one; *random* any (exact expectation,"
        " no sampling). **Regret** = the pick's true rank minus the true rank of the truly best"
        " held-out arch within budget, in the file's **global ranks** (0-499; a held-out arch"
        " is one of about 100, so one held-out position is worth about 5 global ranks). **Hit**"
        " = the pick is that truly best arch. Means over folds, tasks and budgets unless said"
        " otherwise.",
        "",
    ]
    for c, kind in enumerate(COSTS):
        r, h = regret[c], hit[c]  # (fold, task, method, budget)
        per_fold = r.mean(axis=(1, 3))  # (fold, method)
        d = per_fold[:, m_def] - per_fold[:, m_large]
        lines += [
            f"### {kind} budgets",
            "",
            f"| method | mean regret | median over fold x task x budget | hit rate | regret minus `{DEFAULT_PREDICTOR}`'s | folds where `{DEFAULT_PREDICTOR}` is better |",
            "|---|---|---|---|---|---|",
        ]
        for m, name in enumerate(methods):
            gap = per_fold[:, m] - per_fold[:, m_def]
            won = (
                "-"
                if m == m_def
                else f"{int((per_fold[:, m_def] < per_fold[:, m]).sum())}/{n_folds}"
            )
            lines.append(
                f"| {_mark(name)} | {r[:, :, m].mean():.1f} | {np.median(r[:, :, m]):.1f}"
                f" | {h[:, :, m].mean():.1%} | {'-' if m == m_def else f'{gap.mean():+.1f}'} | {won} |"
            )
        lines += [
            "",
            f"`{DEFAULT_PREDICTOR}` minus largest-within-budget, per fold (mean over tasks and"
            f" budgets): mean {d.mean():+.1f}, min {d.min():+.1f}, max {d.max():+.1f} global ranks;"
            f" `{DEFAULT_PREDICTOR}`'s regret is {r[:, :, m_def].mean() / r[:, :, m_large].mean():.0%}"
            " of largest-within-budget's.",
            "",
            f"Mean regret per budget percentile ({kind}), over folds and tasks:",
            "",
            "| method | " + " | ".join(f"p{p}" for p in PERCENTILES) + " |",
            "|---" * (len(PERCENTILES) + 1) + "|",
        ]
        for m, name in enumerate(methods):
            cells = " | ".join(f"{x:.1f}" for x in r[:, :, m].mean(axis=(0, 1)))
            lines.append(f"| {_mark(name)} | {cells} |")
        within = " | ".join(f"{x:.1f}" for x in ev["n_within"][c].mean(axis=0))
        lines.append(f"| *held-out archs within budget (mean)* | {within} |")
        lines += [
            "",
            f"Mean regret per task ({kind}), over folds and budgets (hit rate in brackets):",
            "",
            "| method | " + " | ".join(TASKS) + " |",
            "|---" * (len(TASKS) + 1) + "|",
        ]
        for m, name in enumerate(methods):
            cells = " | ".join(
                f"{r[:, t, m].mean():.1f} ({h[:, t, m].mean():.0%})" for t in range(len(TASKS))
            )
            lines.append(f"| {_mark(name)} | {cells} |")
        lines.append("")
    lines += [verdict(ev), "", notes(ev), ""]
    fit = ", ".join(f"`{n}` {s:.0f} s" for n, s in ev["fit_seconds"].items())
    lines += [
        f"Measured {run['date']} on {run['cpus']} CPUs shared with other jobs (1-min load"
        f" average {run['load_avg_1min']:.1f} at the end). Fits: {n_folds} folds x 8 tasks per"
        f" predictor, summed fit + predict time {fit} (two worker processes, one BLAS thread"
        f" each; wall time of the fitting run {run['wall_s']:.0f} s for {run['fitted_jobs']} fold"
        " jobs). The regret tables take a few seconds from the cached predictions"
        " in `bench/out/selection/` (`--report-only`).",
        "",
        "![regret vs budget percentile](selection_regret.png)",
        "",
    ]
    return "\n".join(lines)


def verdict(ev: dict) -> str:
    """One plain sentence per cost kind: does the default beat largest-within-budget widely?
    'Wide' here: at most half of its regret, and better on every fold."""
    methods, regret = ev["methods"], ev["regret"]
    m_def, m_large = methods.index(DEFAULT_PREDICTOR), methods.index(LARGEST)
    out = []
    for c, kind in enumerate(COSTS):
        r = regret[c]
        ratio = r[:, :, m_def].mean() / r[:, :, m_large].mean()
        per_fold = r.mean(axis=(1, 3))
        all_folds = bool((per_fold[:, m_def] < per_fold[:, m_large]).all())
        task_mean = r.mean(axis=(0, 3))  # (task, method)
        lost = [TASKS[t] for t in range(len(TASKS)) if task_mean[t, m_def] >= task_mean[t, m_large]]
        wide = ratio <= 0.5 and all_folds
        out.append(
            f"{kind}: `{DEFAULT_PREDICTOR}` {'beats' if wide else 'does NOT beat'} largest within"
            f" budget by a wide margin (its regret is {ratio:.0%} of the baseline's,"
            f" {'better on every fold' if all_folds else 'not better on every fold'}"
            + (f"; not better on {', '.join(lost)}" if lost else "; better on every task")
            + ")."
        )
    return (
        "**Verdict** (wide margin = at most half the baseline's mean regret and better on every"
        " fold): " + " ".join(out)
    )


def notes(ev: dict) -> str:
    """Generated reading aids (params budgets): how much size alone tells, the hardest
    task's share of the mean, and how the predictors compare with one another."""
    methods, regret = ev["methods"], ev["regret"][0]  # (fold, task, method, budget)
    m_def, m_rand = methods.index(DEFAULT_PREDICTOR), methods.index(RANDOM)
    tau = np.array(ev["size_tau"]["params"])
    task_mean = regret.mean(axis=(0, 3))  # (task, method)
    per_fold = regret.mean(axis=(1, 3))  # (fold, method)
    worst = int(task_mean[:, m_def].argmax())
    rest = np.arange(len(TASKS)) != worst

    def mean_without_worst(name: str) -> str:
        m = methods.index(name)
        return f"`{name}` {regret[:, :, m].mean():.1f} ({regret[:, rest, m].mean():.1f})"

    others = [n for n in PREDICTOR_NAMES if n != DEFAULT_PREDICTOR]
    wins = ", ".join(
        f"{int((per_fold[:, m_def] < per_fold[:, methods.index(n)]).sum())}/{len(per_fold)}"
        f" against `{n}`"
        for n in others
    )
    return (
        "Reading it (params budgets). Size alone says little in this space: over all 500"
        " labelled archs the Kendall tau between params and true rank is"
        f" {tau.min():+.2f} to {tau.max():+.2f} per task (negative = bigger is better), which is"
        " why largest within budget is only somewhat better than random. The hardest task is"
        f" {TASKS[worst]}: `{DEFAULT_PREDICTOR}`'s regret there is {task_mean[worst, m_def]:.1f}"
        f" against random's {task_mean[worst, m_rand]:.1f}, and it makes up"
        f" {task_mean[worst, m_def] / task_mean[:, m_def].sum():.0%} of `{DEFAULT_PREDICTOR}`'s"
        f" mean. Mean regret of the predictors (without {TASKS[worst]} in brackets): "
        + ", ".join(mean_without_worst(n) for n in PREDICTOR_NAMES)
        + f". `{DEFAULT_PREDICTOR}` has the lower fold regret on {wins}."
    )


def plot(ev: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(COSTS), figsize=(11, 4.2), sharey=True)
    styles = {
        DEFAULT_PREDICTOR: "o-",
        "shared_relevance": "v-",
        "gpnas": "s--",
        "ridge": "^--",
        LARGEST: "D-",
        RANDOM: "x:",
    }
    for c, (ax, kind) in enumerate(zip(axes, COSTS, strict=True)):
        for m, name in enumerate(ev["methods"]):
            ax.plot(
                PERCENTILES,
                ev["regret"][c, :, :, m].mean(axis=(0, 1)),
                styles.get(name, "-"),
                label=name,
                lw=2 if name in (DEFAULT_PREDICTOR, LARGEST) else 1.2,
            )
        ax.set_xlabel(f"budget: percentile of held-out {kind}")
        ax.set_title(f"{kind} budgets")
        ax.set_xticks(PERCENTILES)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("mean true-rank regret (global ranks, 0-499)")
    axes[0].legend(fontsize=8)
    fig.suptitle(f"Budgeted selection regret, {ev['n_folds']} CV folds x 8 tasks (lower is better)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    if "--report-only" in sys.argv:
        run = json.loads((OUT_DIR / "run.json").read_text())
    else:
        run = fit_all(refit="--refit" in sys.argv)
    ev = evaluate()
    np.savez(OUT_DIR / "regret.npz", regret=ev["regret"], hit=ev["hit"])
    SECTION.write_text(section(ev, run))
    plot(ev, PLOT)
    sys.stdout.write(SECTION.read_text())


if __name__ == "__main__":
    main()
