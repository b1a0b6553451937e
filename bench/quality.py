"""Quality benchmark: Kendall tau of every registered predictor against GP-NAS on the real
training file, plus the cost of the full 500 -> 99,500 job for the default predictor.

    .venv/bin/python bench/quality.py                 # everything (about 2-4 min)
    .venv/bin/python bench/quality.py --report-only   # section + plot from bench/out/quality.json

Writes bench/quality_README_section.md (measured figures only), bench/quality_tau.png
and raw results in bench/out/quality.json. Every predictor sees the same splits in the
same run: the seed split (train arch1-400, test arch401-500) and 3 x 5-fold CV over all
500 archs (kfold seeds 0, 1, 2). Each fit gets only its fold's training rows and
labels; the test archs' labels are used for scoring only."""

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
from tasks.evaluate import Holdout, fit_and_score, holdout_splits  # noqa: E402
from tasks.paths import shared_train_path  # noqa: E402
from tasks.predictors import DEFAULT_PREDICTOR, PREDICTORS, make_predictor  # noqa: E402

TRAIN_FILE = shared_train_path()
OUT_DIR = ROOT / "bench" / "out"
SECTION = ROOT / "bench" / "quality_README_section.md"
PLOT = ROOT / "bench" / "quality_tau.png"
KFOLD_SEEDS = (0, 1, 2)
BASELINE = "gpnas"
N_TEST = 99_500


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
    for t in range(len(TASKS)):
        model, tau = fit_and_score(name, X, ranks[:, t], tr, te)
        taus.append(tau)
        choices += choices_of(model)
    return {"name": name, "split": split_no, "taus": taus, "choices": choices}


def timing_child() -> None:
    """Run in a fresh process: the full default job, 8 tasks, 500 train -> 99,500 test.
    Tasks are fitted two at a time in threads (as the pipeline may), one BLAS thread each:
    on 2 cores that beats 2-thread BLAS, whose spinning threads slow eigh ~10x when busy."""
    archs, ranks = load_train()
    enc = get_encoding(PREDICTORS[DEFAULT_PREDICTOR].encoding)
    started = time.perf_counter()
    X_train, X_test = enc.build(archs), enc.build(sample_archs(N_TEST, np.random.default_rng(0)))
    encoded = time.perf_counter()

    def one_task(t: int) -> np.ndarray:
        return make_predictor(DEFAULT_PREDICTOR).fit(X_train, ranks[:, t]).predict(X_test)

    with ThreadPoolExecutor(max_workers=2) as pool:
        scores = list(pool.map(one_task, range(len(TASKS))))
    assert all(s.shape == (N_TEST,) for s in scores)
    done = time.perf_counter()
    sys.stdout.write(
        json.dumps({"encode_s": encoded - started, "fit_predict_s": done - encoded}) + "\n"
    )


def measure_cost() -> dict:
    """Time and peak RSS of timing_child. ru_maxrss of RUSAGE_CHILDREN is the largest
    RSS of any waited-for child, so this runs before any worker pool exists. The child
    keeps the default BLAS threading on the machine's 2 cores."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    }
    out = subprocess.run(
        [sys.executable, __file__, "--timing-child"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["peak_rss_mb"] = (
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    )  # KiB on Linux
    result["cpus"] = len(os.sched_getaffinity(0))
    result["load_avg_1min"] = os.getloadavg()[0]  # other work on the machine slows the run
    return result


# Variants tried during development on the same 16 splits (seed split, CV mean, delta vs
# gpnas, folds won), measured with throwaway scripts; not re-run by this script.
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
    " the reporting folds above; mean 8-task tau, where gpnas scores 0.7697 and the default"
    " `ensemble` 0.7885, +0.0188). Nothing reached the bar of +0.002 over `ensemble`, so"
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


def section(taus: dict, choices: dict, cost: dict, base: str, default: str) -> str:
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
        f"Cost of the full job for `{default}` (8 tasks, fit on 500, predict 99,500 random archs from"
        " `sample_archs(99500, default_rng(0))`), one fresh subprocess on"
        f" {cost['cpus']} CPUs, tasks two at a time in threads, one BLAS thread each"
        f" (1-min load average {cost['load_avg_1min']:.1f} at the end): encoding {cost['encode_s']:.1f} s, fit + predict {cost['fit_predict_s']:.1f} s,"
        f" peak RSS {cost['peak_rss_mb']:.0f} MB (`ru_maxrss` of the child via `getrusage(RUSAGE_CHILDREN)`,"
        " includes the Python interpreter and imports). Predictions are made in chunks of 10,000 rows.",
        "",
        "\n\n".join(EXPLORED),  # one paragraph per round of variants
        "",
        "![per-task Kendall tau, baseline vs default](quality_tau.png)",
        "",
    ]
    return "\n".join(lines)


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
    if "--report-only" in sys.argv:  # rebuild section and plot from the last run's raw results
        raw = json.loads((OUT_DIR / "quality.json").read_text())
        taus = {n: np.array(t) for n, t in raw["taus"].items()}
        choices = {n: Counter(dict(c)) for n, c in raw["choices"].items()}
        SECTION.write_text(section(taus, choices, raw["cost"], BASELINE, DEFAULT_PREDICTOR))
        plot(taus, BASELINE, DEFAULT_PREDICTOR, PLOT)
        return
    cost = measure_cost()
    sys.stdout.write(f"default {DEFAULT_PREDICTOR}: {cost}\n")
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
        "cost": cost,
        "taus": {n: t.tolist() for n, t in taus.items()},
        "choices": {n: c.most_common() for n, c in choices.items()},
    }
    (OUT_DIR / "quality.json").write_text(json.dumps(payload, indent=1))
    SECTION.write_text(section(taus, choices, cost, BASELINE, DEFAULT_PREDICTOR))
    plot(taus, BASELINE, DEFAULT_PREDICTOR, PLOT)
    sys.stdout.write(SECTION.read_text())


if __name__ == "__main__":
    if "--timing-child" in sys.argv:
        timing_child()
    else:
        main()
