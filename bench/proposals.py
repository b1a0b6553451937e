"""What to evaluate next (issue 18, items 3 and 5): does measuring the batch a rule
proposes find a better sub-network within the budget than measuring the predicted top k?

    .venv/bin/python bench/proposals.py          # both parts, about 10 minutes on 2 cores

Part 1, regret after k evaluations. The selection bench's reporting folds
(`bench.selection.cv_splits`: kfold:5, seeds 0-2, 15 folds) on the real file; per fold a
predictor is fitted on the 400 training rows (all 8 tasks), and the 100 held-out archs
are the candidates. Budgets: params at the held-out p10..p90. Each rule picks k of the
held-out archs within budget (k = 1, 2, 3, 5, 10; the rules are greedy, so the k batch is
the first k of the 10 batch); the final decision is the best measured of them, and the
regret is its true global rank minus the truly best within budget's (bench.selection's
`pick_regret`). Nothing labelled counts in the decision, so the rules' incumbent is -inf.
Objectives: each task, and `all`, whose truth is the mean of the eight global ranks (each
task's ranks spread alike, 0-499). "k random" is the exact expectation of the best of k
drawn without replacement; "k largest" breaks cost ties by file order.

Part 2, sequential. A fixed held-out 100 (not seen by any rule); from the other 400, 100
random labelled archs to start (ridge: 3 seeds, every objective;
`shared_relevance`: seed 0, objective `all`, for time), then 8 rounds of 25 chosen by each rule from the
rest within the budget (params p50 of the 400) up to 300; random additions take 25
from the rest, budget or not. After each round: mean Kendall tau on the held-out 100 over
the objective's tasks, and the regret of the best labelled arch within budget against the
best of the 400 within budget. The rules' incumbent is the model's fitted goodness of the
best labelled arch within budget (`labelled_incumbent`, as `propose` uses). A rule whose
in-budget pool runs out fills the batch at random from the rest.

Writes bench/out/proposals.json (git-ignored) and prints the markdown tables."""

from __future__ import annotations

import json
import math
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

from bench.selection import PERCENTILES, cv_splits, load_train, pick_regret  # noqa: E402
from schemas.costs import kind_matrix, params_cost  # noqa: E402
from schemas.encodings import get_encoding  # noqa: E402
from schemas.search_space import TASKS  # noqa: E402
from tasks.predict.evaluate import fold_shared  # noqa: E402
from tasks.predict.predictors import DEFAULT_PREDICTOR, PREDICTORS, make_predictor  # noqa: E402
from tasks.search.objective import build_objective, objective_sd, sd_per_task  # noqa: E402
from tasks.search.propose import choose_batch, labelled_incumbent  # noqa: E402

OUT = ROOT / "bench" / "out" / "proposals.json"
PREDICTOR_NAMES = ("ridge", DEFAULT_PREDICTOR)
OBJECTIVES = (*TASKS, "all")
KS = (1, 2, 3, 5, 10)
RULES = ("qei", "top", "ucb", "thompson")
LARGEST, RANDOM = "largest", "random"
METHODS = (*RULES, LARGEST, RANDOM)
COST = params_cost()
# the sequential run
SEQ_START, SEQ_STEP, SEQ_END, SEQ_HELD_OUT = 100, 25, 300, 100
SEQ_SEEDS = {"ridge": (0, 1, 2), DEFAULT_PREDICTOR: (0,)}
SEQ_OBJECTIVES = {"ridge": OBJECTIVES, DEFAULT_PREDICTOR: ("all",)}
SEQ_BUDGETS = {"ridge": (50,), DEFAULT_PREDICTOR: (50,)}
SEQ_RULES = ("qei", "top")


def true_values(ranks: np.ndarray, objective: str) -> np.ndarray:
    """Lower is better: a task's global rank, or for `all` the mean of the eight."""
    return ranks.mean(axis=1) if objective == "all" else ranks[:, TASKS.index(objective)]


def batch_regret(batch: np.ndarray, truth: np.ndarray, allowed: np.ndarray) -> float:
    """Regret of the best measured of `batch` (indices, all allowed) among the allowed."""
    scores = np.full(len(truth), np.inf)
    scores[batch] = truth[batch]  # the best measured is the argmin of the measured truth
    return pick_regret(scores, truth, allowed)[0]


def random_batch_regret(truth: np.ndarray, allowed: np.ndarray, k: int) -> float:
    """Exact expected regret of the best of k allowed archs drawn without replacement."""
    r = np.sort(truth[allowed])
    m = len(r)
    k = min(k, m)
    p = np.array([math.comb(m - i - 1, k - 1) for i in range(m)], float) / math.comb(m, k)
    return float(p @ r - r[0])


def fit_models(name: str, X: np.ndarray, ranks: np.ndarray, rows: np.ndarray) -> dict:
    shared = fold_shared(name, X, ranks, rows)
    return {
        task: make_predictor(name, seed=0).fit(X[rows], ranks[rows, t], shared=shared)
        for t, task in enumerate(TASKS)
    }


def beliefs(models: dict, archs: list[str], rows, candidates) -> dict:
    """objective -> (means, sds) of the candidates, the objective built on `rows`."""
    train = [archs[i] for i in rows]
    cand = [archs[i] for i in candidates]
    task_sd = sd_per_task(build_objective(models, train, task="all"), cand)
    out = {}
    for spec in OBJECTIVES:
        objective = build_objective(models, train, task=spec)
        out[spec] = (objective.goodness(cand), objective_sd(objective, task_sd), objective)
    return out


# ---------------------------------------------------------------- part 1: regret after k


def fold_job(job: tuple[str, int]) -> dict:
    """One predictor, one fold: regret of shape (objective, method, budget, k)."""
    from threadpoolctl import threadpool_limits

    name, split_no = job
    archs, ranks, _ = load_train()
    fold, train, held = cv_splits(len(archs))[split_no]
    X = get_encoding(PREDICTORS[name].encoding).build(archs)
    started = time.perf_counter()
    with threadpool_limits(limits=1):
        models = fit_models(name, X, ranks, train)
        belief = beliefs(models, archs, train, held)
    cost = COST.of_archs([archs[i] for i in held])
    kinds = kind_matrix([archs[i] for i in held])
    regret = np.zeros((len(OBJECTIVES), len(METHODS), len(PERCENTILES), len(KS)))
    for o, spec in enumerate(OBJECTIVES):
        truth = true_values(ranks[held], spec)
        means, sds, _ = belief[spec]
        for b, limit in enumerate(np.percentile(cost, PERCENTILES)):
            allowed = cost <= limit
            idx = np.flatnonzero(allowed)
            kmax = min(max(KS), len(idx))
            for m, method in enumerate(METHODS):
                if method == RANDOM:
                    regret[o, m, b] = [random_batch_regret(truth, allowed, k) for k in KS]
                    continue
                if method == LARGEST:
                    order = idx[np.argsort(-cost[idx], kind="stable")][:kmax]
                else:
                    rng = np.random.default_rng(1000 * split_no + b)
                    picks = choose_batch(
                        means[idx], sds[idx], -np.inf, kmax, method, kinds[idx], rng
                    )
                    order = idx[[i for i, _ in picks]]
                regret[o, m, b] = [batch_regret(order[:k], truth, allowed) for k in KS]
    return {
        "name": name,
        "fold": fold,
        "regret": regret,
        "seconds": time.perf_counter() - started,
    }


# ---------------------------------------------------------------- part 2: sequential


def beliefs_one(models: dict, archs: list[str], rows, candidates, spec: str):
    """(means, sds, objective) of the candidates for one objective built on `rows`."""
    train = [archs[i] for i in rows]
    cand = [archs[i] for i in candidates]
    objective = build_objective(models, train, task=spec)
    return (
        objective.goodness(cand),
        objective_sd(objective, sd_per_task(objective, cand)),
        objective,
    )


def held_out_tau(models: dict, X: np.ndarray, ranks: np.ndarray, held, spec: str) -> float:
    """Mean Kendall tau on the held-out rows over the objective's tasks."""
    tasks = TASKS if spec == "all" else (spec,)
    return float(
        np.mean(
            [
                kendalltau(models[t].predict(X[held]), ranks[held, TASKS.index(t)]).statistic
                for t in tasks
            ]
        )
    )


def run_track(name, data, start, rule, spec, limit, seed) -> dict:
    """Labelled rows after each round and the held-out tau for the track's objectives."""
    archs, ranks, X, held, rest, cost = data
    rng = np.random.default_rng(seed * 7919 + 1)
    labelled = list(start)
    snapshots, taus = [], {s: [] for s in (SEQ_OBJECTIVES[name] if spec is None else (spec,))}
    for n in range(SEQ_START, SEQ_END + 1, SEQ_STEP):
        rows = np.array(labelled)
        models = fit_models(name, X, ranks, rows)
        snapshots.append(rows)
        for s in taus:
            taus[s].append(held_out_tau(models, X, ranks, held, s))
        if n == SEQ_END:
            break
        pool = np.setdiff1d(rest, rows)
        if rule == RANDOM:
            labelled += rng.choice(pool, SEQ_STEP, replace=False).tolist()
            continue
        within = pool[cost[pool] <= limit]
        take = min(SEQ_STEP, len(within))
        chosen: list[int] = []
        if take:
            means, sds, objective = beliefs_one(models, archs, rows, within, spec)
            incumbent = labelled_incumbent(objective, [archs[i] for i in rows], COST, limit)
            kinds = kind_matrix([archs[i] for i in within])
            picks = choose_batch(means, sds, incumbent, take, rule, kinds, rng)
            chosen = within[[i for i, _ in picks]].tolist()
        if take < SEQ_STEP:  # the in-budget pool ran out: fill at random
            chosen += rng.choice(
                np.setdiff1d(pool, chosen), SEQ_STEP - take, replace=False
            ).tolist()
        labelled += chosen
    return {"snapshots": snapshots, "tau": taus}


def seq_job(job: tuple[str, int]) -> dict:
    """One predictor and start seed: random additions, and each rule for every objective
    and budget; per round the held-out tau and the regret."""
    from threadpoolctl import threadpool_limits

    name, seed = job
    archs, ranks, _ = load_train()
    X = get_encoding(PREDICTORS[name].encoding).build(archs)
    order = np.random.default_rng(1234).permutation(len(archs))
    held, rest = order[:SEQ_HELD_OUT], order[SEQ_HELD_OUT:]
    start = np.random.default_rng(seed).choice(rest, SEQ_START, replace=False)
    cost = COST.of_archs(archs)
    data = (archs, ranks, X, held, rest, cost)
    limits = dict(zip(SEQ_BUDGETS[name], np.percentile(cost[rest], SEQ_BUDGETS[name]), strict=True))
    started = time.perf_counter()
    tracks = []
    with threadpool_limits(limits=1):
        random_track = run_track(name, data, start, RANDOM, None, None, seed)
        for spec in SEQ_OBJECTIVES[name]:
            for p, limit in limits.items():
                for rule in (*SEQ_RULES, RANDOM):
                    track = (
                        random_track
                        if rule == RANDOM
                        else run_track(name, data, start, rule, spec, limit, seed)
                    )
                    truth = true_values(ranks, spec)
                    best = truth[rest[cost[rest] <= limit]].min()
                    regret = [
                        float(truth[rows[cost[rows] <= limit]].min() - best)
                        if (cost[rows] <= limit).any()
                        else float("nan")
                        for rows in track["snapshots"]
                    ]
                    tracks.append(
                        {
                            "rule": rule,
                            "objective": spec,
                            "budget": p,
                            "regret": regret,
                            "tau": track["tau"][spec],
                        }
                    )
    return {
        "name": name,
        "seed": seed,
        "rounds": list(range(SEQ_START, SEQ_END + 1, SEQ_STEP)),
        "tracks": tracks,
        "seconds": time.perf_counter() - started,
    }


# ---------------------------------------------------------------- run and report


def _run_all() -> tuple[list[dict], list[dict], dict]:
    n_folds = len(cv_splits(len(load_train()[0])))
    fold_jobs = [(name, k) for name in reversed(PREDICTOR_NAMES) for k in range(n_folds)]
    seq_jobs = [(name, s) for name in reversed(PREDICTOR_NAMES) for s in SEQ_SEEDS[name]]
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=2) as pool:
        seq_futures = [pool.submit(seq_job, job) for job in seq_jobs]
        folds = list(pool.map(fold_job, fold_jobs))
        seqs = [f.result() for f in seq_futures]
    run = {
        "date": date.today().isoformat(),
        "cpus": len(os.sched_getaffinity(0)),
        "wall_s": time.perf_counter() - started,
        "load_avg_1min": os.getloadavg()[0],
    }
    return folds, seqs, run


def regret_arrays(folds: list[dict]) -> dict:
    """predictor -> (fold, objective, method, budget, k)."""
    return {
        name: np.stack([f["regret"] for f in folds if f["name"] == name])
        for name in PREDICTOR_NAMES
    }


def regret_tables(arrays: dict) -> list[str]:
    task_rows = [OBJECTIVES.index(t) for t in TASKS]
    mine, top = METHODS.index("qei"), METHODS.index("top")
    lines = []
    for name, r in arrays.items():
        tasks = r[:, task_rows]  # (fold, task, method, budget, k)
        lines += [
            f"**`{name}`**, regret after k evaluations (global ranks), mean over folds and"
            " budgets; *mean over tasks* is the issue's figure, `all` the mean-rank objective:",
            "",
            "| rule | mean over tasks, k = "
            + " / ".join(map(str, KS))
            + " | `all`, k = "
            + " / ".join(map(str, KS))
            + " | cplfw, k = "
            + " / ".join(map(str, KS))
            + " |",
            "|---|---|---|---|",
        ]
        for m, method in enumerate(METHODS):
            cells = [
                tasks[:, :, m].mean(axis=(0, 1, 2)),
                r[:, OBJECTIVES.index("all"), m].mean(axis=(0, 1)),
                r[:, OBJECTIVES.index("cplfw"), m].mean(axis=(0, 1)),
            ]
            label = {
                "qei": "qei (greedy batch EI + diversity)",
                "ucb": "mean+1sd top k",
                "top": "predicted top k",
                LARGEST: "k largest",
                RANDOM: "k random",
            }
            lines.append(
                f"| {label.get(method, method)} | "
                + " | ".join(" / ".join(f"{x:.1f}" for x in c) for c in cells)
                + " |"
            )
        per_fold = tasks.mean(axis=(1, 3))  # (fold, method, k)
        cpl = r[:, OBJECTIVES.index("cplfw")].mean(axis=2)
        allr = r[:, OBJECTIVES.index("all")].mean(axis=2)

        def wins(a):
            return " / ".join(
                f"{int((a[:, mine, j] < a[:, top, j]).sum())}-{int((a[:, mine, j] > a[:, top, j]).sum())}"
                for j in range(len(KS))
            )

        lines += [
            "",
            f"Fold-level wins of qei against the predicted top k (folds won-lost of {len(r)},"
            f" the rest tied), k = {' / '.join(map(str, KS))}: mean over tasks {wins(per_fold)};"
            f" `all` {wins(allr)}; cplfw {wins(cpl)}.",
            "",
            "Per task at k = 3 (qei / predicted top k): "
            + ", ".join(
                f"{t} {r[:, OBJECTIVES.index(t), mine, :, 2].mean():.1f} / "
                f"{r[:, OBJECTIVES.index(t), top, :, 2].mean():.1f}"
                for t in TASKS
            )
            + ".",
            "",
        ]
    return lines


def sequential_tables(seqs: list[dict]) -> list[str]:
    lines = []
    for name in PREDICTOR_NAMES:
        mine = [s for s in seqs if s["name"] == name]
        if not mine:
            continue
        rounds = mine[0]["rounds"]
        lines += [
            f"**`{name}`**, sequential (start {SEQ_START}, +{SEQ_STEP} a round, budget params"
            f" p50 of the 400, seeds {', '.join(str(s['seed']) for s in mine)}; mean over seeds and"
            f" the objectives {', '.join(SEQ_OBJECTIVES[name]) if len(SEQ_OBJECTIVES[name]) < 3 else 'each task and all'}):"
            " held-out tau / regret of the best labelled within budget",
            "",
            "| rule | " + " | ".join(map(str, rounds)) + " |",
            "|---" * (len(rounds) + 1) + "|",
        ]
        curves = {}
        for rule in (*SEQ_RULES, RANDOM):
            tracks = [t for s in mine for t in s["tracks"] if t["rule"] == rule]
            tau = np.mean([t["tau"] for t in tracks], axis=0)
            regret = np.nanmean([t["regret"] for t in tracks], axis=0)
            curves[rule] = (tau, regret)
            lines.append(
                f"| {rule} | "
                + " | ".join(f"{a:.3f} / {b:.1f}" for a, b in zip(tau, regret, strict=True))
                + " |"
            )
        rand_tau, rand_regret = curves[RANDOM][0][-1], curves[RANDOM][1][-1]
        for rule in SEQ_RULES:
            tau, regret = curves[rule]
            at_regret = next(
                (n for n, x in zip(rounds, regret, strict=True) if x <= rand_regret), None
            )
            at_tau = next((n for n, x in zip(rounds, tau, strict=True) if x >= rand_tau), None)
            lines.append(
                f"\n{rule} matches random additions at {SEQ_END} labels (regret {rand_regret:.1f},"
                f" tau {rand_tau:.3f}): regret at {at_regret or 'never, up to ' + str(SEQ_END)} labels,"
                f" tau at {at_tau or 'never, up to ' + str(SEQ_END)} labels."
            )
        lines.append("")
    return lines


def main() -> None:
    folds, seqs, run = _run_all()
    arrays = regret_arrays(folds)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(
        json.dumps(
            {
                "run": run,
                "methods": METHODS,
                "objectives": OBJECTIVES,
                "ks": KS,
                "percentiles": PERCENTILES,
                "regret": {n: a.tolist() for n, a in arrays.items()},
                "fold_seconds": {
                    n: sum(f["seconds"] for f in folds if f["name"] == n) for n in PREDICTOR_NAMES
                },
                "sequential": seqs,
            },
            indent=1,
        )
    )
    lines = regret_tables(arrays) + sequential_tables(seqs)
    lines.append(
        f"Measured {run['date']} on {run['cpus']} CPUs (two worker processes, one BLAS thread"
        f" each), wall time {run['wall_s']:.0f} s, 1-min load average {run['load_avg_1min']:.1f}"
        " at the end."
    )
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
