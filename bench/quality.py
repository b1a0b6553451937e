"""Quality benchmark: Kendall tau of every registered predictor against GP-NAS on the real
training file, issue 12's adoption test (shared_relevance against ensemble), plus the cost
of the full 500 -> 99,500 job before and after sharing across tasks.

    .venv/bin/python bench/quality.py                 # everything (about 2-4 min)
    .venv/bin/python bench/quality.py --report-only   # section + plot from bench/out/quality.json
    .venv/bin/python bench/quality.py --cost-only     # re-measure the full-job cost runs only

Writes bench/quality_README_section.md (measured figures only), bench/quality_tau.png
and raw results in bench/out/quality.json. Every predictor sees the same splits in the
same run: the seed split (train arch1-400, test arch401-500) and 3 x 5-fold CV over all
500 archs (kfold seeds 0, 1, 2). Each fit gets only its fold's training rows and
labels (shared statistics too: tasks.predict.evaluate.fold_shared on the fold's training rows);
the test archs' labels are used for scoring only."""

from __future__ import annotations

import os

# One BLAS thread per worker process: the folds run two at a time on the two cores.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import json  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from schemas.encodings import get_encoding  # noqa: E402
from schemas.search_space import RANK_FIELDS, TASKS, sample_archs  # noqa: E402
from tasks.paths import shared_train_path  # noqa: E402
from tasks.predict.evaluate import Holdout, fit_and_score, fold_shared, holdout_splits  # noqa: E402
from tasks.predict.predictors import (  # noqa: E402
    DEFAULT_PREDICTOR,
    PREDICTORS,
    get_predictor_class,
    make_predictor,
)
from tasks.predict.predictors.eigh_cache import DEFAULT_LIMIT_BYTES, eigh_cache_limit  # noqa: E402

TRAIN_FILE = shared_train_path()
OUT_DIR = ROOT / "bench" / "out"
SECTION = ROOT / "bench" / "quality_README_section.md"
PLOT = ROOT / "bench" / "quality_tau.png"
KFOLD_SEEDS = (0, 1, 2)
BASELINE = "gpnas"
N_TEST = 99_500
# Issue 12's rule: the challenger becomes the default only if it beats the incumbent on at
# least 12 of the 15 CV folds AND by at least +0.002 mean 8-task tau (no further tuning).
INCUMBENT, CHALLENGER = "ensemble", "shared_relevance"
ADOPT_MIN_FOLDS, ADOPT_MIN_MEAN = 12, 0.002
# Full-job cost runs: (predictor, eigendecompositions shared across tasks?). The first is
# the job as it was before issue 12 (ensemble, every task decomposing its own Grams).
COST_RUNS = ((INCUMBENT, False), (INCUMBENT, True), (CHALLENGER, True))


def load_train() -> tuple[list[str], np.ndarray]:
    raw = json.loads(TRAIN_FILE.read_text())
    keys = sorted(raw, key=lambda k: int(k.removeprefix("arch")))
    return [raw[k]["arch"] for k in keys], np.array(
        [[raw[k][f] for f in RANK_FIELDS] for k in keys], dtype=float
    )


def splits(n: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
    out = [("seed split", np.arange(400), np.arange(400, n))]
    for s in KFOLD_SEEDS:
        for i, (tr, te) in enumerate(holdout_splits(n, Holdout("kfold", 5), seed=s)):
            out.append((f"cv r{s} f{i}", tr, te))
    return out


def choices_of(model) -> list[str]:
    """The hyperparameters a fitted predictor chose from its training rows (by LOO)."""
    if hasattr(model, "alpha_"):  # ridge
        return [f"alpha={model.alpha_:.3g}"]
    inner = [model.model_] if hasattr(model, "model_") else list(getattr(model, "members_", []))
    return [f"{m.describe() if hasattr(m, 'describe') else m}" for m in inner]


def run_split(job: tuple[str, int]) -> dict:
    name, split_no = job
    archs, ranks = load_train()
    X = get_encoding(PREDICTORS[name].encoding).build(archs)
    _, tr, te = splits(len(archs))[split_no]
    taus, choices = [], []
    shared = fold_shared(name, X, ranks, tr)  # this fold's training rows only
    for t in range(len(TASKS)):
        model, tau = fit_and_score(name, X, ranks[:, t], tr, te, shared)
        taus.append(tau)
        choices += choices_of(model)
    return {"name": name, "split": split_no, "taus": taus, "choices": choices}


def timing_child(name: str, share_eigh: bool) -> None:
    """Run in a fresh process: the full job, 8 tasks, 500 train -> 99,500 test. Shared
    statistics (if any) once, then the tasks two at a time in threads (as the pipeline
    runs them), one BLAS thread (as tasks.fitting sets for the flow's fits: on 2 cores,
    spinning BLAS threads slow eigh ~10x when busy). `share_eigh=False` keeps no
    eigendecomposition for other tasks: the job as it ran before issue 12."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")
    archs, ranks = load_train()
    enc = get_encoding(PREDICTORS[name].encoding)
    started = time.perf_counter()
    X_train, X_test = enc.build(archs), enc.build(sample_archs(N_TEST, np.random.default_rng(0)))
    encoded = time.perf_counter()
    cpu_before = _cpu_seconds()
    with eigh_cache_limit(DEFAULT_LIMIT_BYTES if share_eigh else 0) as cache:
        shared = get_predictor_class(name).fit_shared(X_train, ranks)

        def one_task(t: int) -> np.ndarray:
            return make_predictor(name).fit(X_train, ranks[:, t], shared=shared).predict(X_test)

        with ThreadPoolExecutor(max_workers=2) as pool:
            scores = list(pool.map(one_task, range(len(TASKS))))
        eighs = cache.stats.computed
    assert all(s.shape == (N_TEST,) for s in scores)
    done = time.perf_counter()
    cpu = _cpu_seconds() - cpu_before
    sys.stdout.write(
        json.dumps(
            {
                "encode_s": encoded - started,
                "fit_predict_s": done - encoded,
                "fit_predict_cpu_s": cpu,
                "eighs": eighs,
                # this process's own peak RSS (KiB on Linux): includes interpreter and imports
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
        + "\n"
    )


def _cpu_seconds() -> float:
    """User + system CPU time of this process, all threads: unlike wall time, hardly
    affected by other jobs competing for the cores."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure_cost(name: str, share_eigh: bool) -> dict:
    """Time, eigendecompositions computed and peak RSS of timing_child, in a fresh process."""
    args = [sys.executable, __file__, "--timing-child", name, "share" if share_eigh else "alone"]
    out = subprocess.run(args, check=True, capture_output=True, text=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result.update(predictor=name, share_eigh=share_eigh)
    result["cpus"] = len(os.sched_getaffinity(0))
    result["load_avg_1min"] = os.getloadavg()[0]  # other work on the machine slows the run
    return result


def adoption(taus: dict) -> dict:
    """Issue 12's rule applied to the CV folds (the seed split is not one of them)."""
    d = taus[CHALLENGER][1:].mean(axis=1) - taus[INCUMBENT][1:].mean(axis=1)
    per_task = taus[CHALLENGER][1:].mean(axis=0) - taus[INCUMBENT][1:].mean(axis=0)
    wins = int((d > 0).sum())
    adopt = wins >= ADOPT_MIN_FOLDS and float(d.mean()) >= ADOPT_MIN_MEAN
    return {"delta": d, "per_task": per_task, "wins": wins, "adopt": adopt}


# Variants tried during development on the same 16 splits (seed split, CV mean, delta vs
# gpnas, folds won), measured with throwaway scripts; not re-run by this script.
LABEL = "*Hand-written from development notes, not measured by this script:* "
EXPLORED = [
    "Variants measured during development on the same splits (not re-run by this script;"
    " seed split / CV mean / delta vs gpnas / folds won): relevance-weighted kernel ridge alone"
    " 0.7911 / 0.7861 / +0.0175 / 15; with |coef|^0.5 0.7925 / 0.7870 / +0.0184 / 15; with"
    " |coef|^2 0.7895 / 0.7822 / +0.0137 / 15; relevance-weighted interactions alone 0.7921 /"
    " 0.7860 / +0.0175 / 15; 3-member ensemble (kernel ridge, interactions, relevance-weighted"
    " kernel ridge) 0.7929 / 0.7878 / +0.0192 / 15; 6-member ensemble (adding |coef|^0.5"
    " members) 0.7939 / 0.7884 / +0.0198 / 15, not kept (+0.0001 for 50% more cost).",
    # Second round: tuned on separate DEV folds so the report folds above stay untouched.
    "Also tried, on separate development folds (`kfold:5` seeds 100, 101, 102; 15 folds, not"
    " the reporting folds above; mean 8-task tau, where gpnas scores 0.7697 and `ensemble`"
    " (the default before issue 12) 0.7885, +0.0188). Nothing reached the bar of +0.002 over `ensemble`, so"
    " nothing was integrated or run on the reporting folds. GP with ARD linear + RBF kernel,"
    " hyperparameters by maximum marginal likelihood: per-feature weights 0.757 vs 0.769 for"
    " `ensemble` on the first fold (dropped); per-group weights (depth + 24 layer x"
    " heads/mlp groups) 0.7807 alone, RBF-only 0.7837, as a 5th member 0.7893 (+0.0008; about 4x"
    " the ensemble's fit cost). 3-way ANOVA kernel (x.z + g2 e2 + g3 e3, 20 (g2, g3) pairs) 0.7856,"
    " relevance-weighted 0.7868, replacing the interaction members 0.7884. Interaction kernel"
    " weighted rho^|layer distance| (rho chosen by LOO from 0-1) 0.7859, relevance-weighted"
    " 0.7868, replacing the interaction members 0.7884. Bayesian-model-averaging over the LOO"
    " grid (weights exp(-n/(2T) log(mse/min)), T=4) 0.7859 vs 0.7862 for `kernel_ridge`."
    " Choosing kernel and alpha by LOO Kendall tau instead of LOO MSE 0.7858 (`kernel_ridge`"
    " and relevance-weighted). Thermometer (cumulative ordinal) encoding: 0.7839 to 0.7872 per"
    " member; its 2 relevance-weighted members added to the 4 members 0.7893 (+0.0008). One-hot"
    " and thermometer side by side 0.7885. Relevance averaged over 10 bootstrap ridge fits"
    " 0.7865 per member, 0.7885 in the ensemble. Transductive: one-hot standardised by the"
    " mean/std of the 99,500 unlabelled archs (archs only, no labels) 0.7887 (+0.0002)."
    " Instead of normal scores: uniform ranks 0.7756 (`kernel_ridge`) and 0.7657 (relevance);"
    " sign(z)|z|^p with p = 0.5, 1.2 or 1.5 scored 0.7611, 0.7846 and 0.7715. Best combination"
    " found: 4 members + 2 thermometer relevance members + group-ARD GP, 0.7898 (+0.0013,"
    " below the bar).",
]


def fmt_delta(d: np.ndarray) -> str:
    return f"{d.mean():+.4f} | {d.std():.4f} | {d.min():+.4f} | {d.max():+.4f}"


def section(taus: dict, choices: dict, costs: list[dict], base: str, default: str) -> str:
    cv = slice(1, None)
    n_cv = len(taus[base]) - 1
    lines = [
        "## Prediction quality (measured by `bench/quality.py`)",
        "",
        f"Real training file, 500 archs. Seed split: train arch1-400, test arch401-500. CV: 5-fold x {len(KFOLD_SEEDS)}"
        f" repeats (`kfold:5` seeds {', '.join(map(str, KFOLD_SEEDS))}), {n_cv} folds, every predictor on the same folds."
        f" Kendall tau averaged over the 8 tasks; delta = predictor minus `{base}` on the same fold. Default: **`{default}`**.",
        "",
        f"| predictor | seed split | CV mean | delta vs {base} (mean) | std | min | max | folds beating {base} |",
        "|---|---|---|---|---|---|---|---|",
    ]
    base_avg = taus[base].mean(axis=1)
    for name, t in taus.items():
        avg = t.mean(axis=1)
        d = avg[cv] - base_avg[cv]
        mark = f"**{name}** (default)" if name == default else f"`{name}`"
        delta = "- | - | - | -" if name == base else fmt_delta(d)
        wins = "-" if name == base else f"{int((d > 0).sum())}/{n_cv}"
        lines.append(f"| {mark} | {avg[0]:.4f} | {avg[cv].mean():.4f} | {delta} | {wins} |")
    lines += ["", "Per-task Kendall tau, CV mean over folds (seed split in brackets):", ""]
    lines += ["| predictor | " + " | ".join(TASKS) + " |", "|---" * (len(TASKS) + 1) + "|"]
    for name, t in taus.items():
        cells = [f"{t[cv, j].mean():.4f} ({t[0, j]:.4f})" for j in range(len(TASKS))]
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    lines += [
        "",
        "How choices are made (no peeking): every hyperparameter is chosen inside `fit` from the"
        " fold's training rows only, by exact leave-one-out (closed form from one eigendecomposition"
        " of the training Gram matrix, intercept unpenalised), minimising LOO squared error of the"
        " normal-score target. Ensemble members and their equal weights are fixed in code, not fitted;"
        " each member's scores are z-scored with the mean/std of its own training-row predictions."
        " Design-time choices (grids, which members, equal weights) were made by the developer"
        " comparing variants on these same CV folds, so the ensemble's margin over its members"
        " may be slightly optimistic; variants within +-0.0005 were resolved towards the simpler design."
        f" Most frequent choices over the {n_cv} CV folds x 8 tasks:",
        "",
    ]
    for name, counter in choices.items():
        if counter:
            top = ", ".join(f"{c} ({k})" for c, k in counter.most_common(4))
            lines.append(f"- `{name}`: {top}")
    lines += [
        "",
        *adoption_lines(taus, default),
        *cost_lines(costs),
        "",
        "\n\n".join(LABEL + e for e in EXPLORED),  # one paragraph per round of variants
        "",
        "![per-task Kendall tau, baseline vs default](quality_tau.png)",
        "",
    ]
    return "\n".join(lines)


def adoption_lines(taus: dict, default: str) -> list[str]:
    a = adoption(taus)
    d, n = a["delta"], len(a["delta"])
    verdict = (
        f"it met both, so `{CHALLENGER}` is the default"
        if a["adopt"]
        else f"it did not meet both, so `{INCUMBENT}` stays the default"
    )
    if (default == CHALLENGER) != a["adopt"]:
        verdict += f" (WARNING: the code's default is `{default}`, against the rule)"
    cells = " | ".join(f"{x:+.4f}" for x in a["per_task"])
    return [
        f"### Issue 12: `{CHALLENGER}` against `{INCUMBENT}`",
        "",
        f"`{CHALLENGER}` is `{INCUMBENT}` with one relevance scale for all eight tasks: per task,"
        " ridge (alpha by LOO) on one-hot and normal-score targets gives W[:, t]; scale ="
        " sqrt(mean over t of W[:, t]^2), divided by its mean; both relevance-weighted members use"
        " it for every task. In each fold it is computed from that fold's training rows only"
        " (`tasks.predict.evaluate.fold_shared`). It was designed on the development folds (seeds 100-102,"
        " issue 12: +0.0032, 15/15) and run here once, with no further tuning.",
        "",
        f"Rule (issue 12): adopt only if it beats `{INCUMBENT}` on at least {ADOPT_MIN_FOLDS} of"
        f" {n} CV folds AND by at least {ADOPT_MIN_MEAN:+.3f} mean 8-task tau.",
        "",
        "| CV folds won | mean delta | std | min | max |",
        "|---|---|---|---|---|",
        f"| {a['wins']}/{n} | {fmt_delta(d)} |",
        "",
        "| mean delta per task | " + " | ".join(TASKS) + " |",
        "|---" * (len(TASKS) + 1) + "|",
        f"| `{CHALLENGER}` minus `{INCUMBENT}` | {cells} |",
        "",
        f"**Decision:** {a['wins']}/{n} folds won, mean delta {d.mean():+.4f}: {verdict}.",
        "",
    ]


def cost_lines(costs: list[dict]) -> list[str]:
    c0 = costs[0]
    lines = [
        "### Cost of the full job",
        "",
        "8 tasks, fit on the 500 labelled archs, predict 99,500 random archs from"
        " `sample_archs(99500, default_rng(0))`; each run in one fresh subprocess on"
        f" {c0['cpus']} CPUs: shared statistics once (if any), then the tasks two at a time in"
        " threads, one BLAS thread. *Shared eigendecompositions*: fits whose Gram matrix is the same"
        " reuse one eigendecomposition (`tasks/predict/predictors/eigh_cache.py`); without it every task"
        " decomposes its own, as before issue 12. Peak RSS is the child's own `ru_maxrss`"
        " (includes the interpreter and imports). CPU time is user + system time of the child over"
        " fit + predict (all threads): other jobs on the machine stretch the wall time, much less the"
        " CPU time. Predictions are made in chunks of 10,000 rows.",
        "",
        "| predictor | shared eigendecompositions | eigendecompositions | encoding (s) | fit + predict, wall (s) | fit + predict, CPU (s) | peak RSS (MB) | 1-min load at the end |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in costs:
        lines.append(
            f"| `{c['predictor']}` | {'yes' if c['share_eigh'] else 'no (before issue 12)'} |"
            f" {c['eighs']} | {c['encode_s']:.1f} | {c['fit_predict_s']:.1f} |"
            f" {c['fit_predict_cpu_s']:.1f} |"
            f" {c['peak_rss_mb']:.0f} | {c['load_avg_1min']:.1f} |"
        )
    return lines


def plot(taus: dict, base: str, default: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = np.arange(len(TASKS))
    fig, ax = plt.subplots(figsize=(9, 4.5))
    for k, (name, color) in enumerate(((base, "tab:gray"), (default, "tab:blue"))):
        t = taus[name]
        ax.bar(
            x + (k - 0.5) * 0.38,
            t[1:].mean(axis=0),
            0.38,
            yerr=t[1:].std(axis=0),
            color=color,
            capsize=3,
            label=f"{name} (CV mean, std)",
        )
        ax.scatter(
            x + (k - 0.5) * 0.38,
            t[0],
            marker="D",
            color="black",
            s=14,
            zorder=3,
            label="seed split" if k else None,
        )
    ax.set_xticks(x, TASKS, rotation=20)
    ax.set_ylabel("Kendall tau")
    ax.set_ylim(0.0, 1.0)  # cplfw sits near 0.25
    ax.set_title(f"Per-task Kendall tau: {base} vs {default}")
    ax.legend(loc="lower right", fontsize=8, framealpha=0.9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    if "--report-only" in sys.argv or "--cost-only" in sys.argv:
        # rebuild section and plot from the last run's raw results; --cost-only first
        # re-measures the cost runs (side by side, e.g. when the machine is quieter)
        raw = json.loads((OUT_DIR / "quality.json").read_text())
        if "--cost-only" in sys.argv:
            raw["costs"] = [measure_cost(name, share) for name, share in COST_RUNS]
            (OUT_DIR / "quality.json").write_text(json.dumps(raw, indent=1))
        taus = {n: np.array(t) for n, t in raw["taus"].items()}
        choices = {n: Counter(dict(c)) for n, c in raw["choices"].items()}
        SECTION.write_text(section(taus, choices, raw["costs"], BASELINE, DEFAULT_PREDICTOR))
        plot(taus, BASELINE, DEFAULT_PREDICTOR, PLOT)
        return
    costs = [measure_cost(name, share) for name, share in COST_RUNS]  # before any pool
    for c in costs:
        sys.stdout.write(f"cost: {c}\n")
    names = [BASELINE, *[n for n in PREDICTORS if n != BASELINE]]
    n_splits = len(splits(500))
    jobs = [(name, s) for name in names for s in range(n_splits)]
    with ProcessPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(run_split, jobs))
    taus = {n: np.zeros((n_splits, len(TASKS))) for n in names}
    choices: dict[str, Counter] = {n: Counter() for n in names}
    for r in results:
        taus[r["name"]][r["split"]] = r["taus"]
        if r["split"] > 0:
            choices[r["name"]].update(r["choices"])
    payload = {
        "costs": costs,
        "taus": {n: t.tolist() for n, t in taus.items()},
        "choices": {n: c.most_common() for n, c in choices.items()},
    }
    (OUT_DIR / "quality.json").write_text(json.dumps(payload, indent=1))
    SECTION.write_text(section(taus, choices, costs, BASELINE, DEFAULT_PREDICTOR))
    plot(taus, BASELINE, DEFAULT_PREDICTOR, PLOT)
    sys.stdout.write(SECTION.read_text())


if __name__ == "__main__":
    if "--timing-child" in sys.argv:
        at = sys.argv.index("--timing-child")
        timing_child(sys.argv[at + 1], sys.argv[at + 2] == "share")
    else:
        main()
