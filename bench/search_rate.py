"""How long and how much memory `ufo search`'s search step takes per model evaluation, the
figures `--max-evals`' estimate is printed from (tasks/search/parameters.py).

    .venv/bin/python bench/search_rate.py            # about 5-10 min here
    .venv/bin/python bench/search_rate.py --quick    # smoke run

The default predictor is fitted on the real training file (all 8 tasks, one BLAS thread,
as the flow fits). For the objectives market1501 (one task) and all (8 tasks), the search
step of `ufo search` (the front, then the picks within a params budget of 70M, each with
`max_evals` evaluations) runs at growing `max_evals`, in a fresh process each, so that the
peak RSS is its own. Reported: CPU seconds per evaluation (of the 2 x max_evals), wall
seconds, and the peak RSS above the fitted process's. Writes the markdown table to stdout
and bench/out/search_rate.md."""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

OUT = ROOT / "bench" / "out" / "search_rate.md"
OBJECTIVES = ("market1501", "all")


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def one_run(objective: str, max_evals: int) -> dict:
    """In this process: fit, then time the search step as the flow runs it."""
    import numpy as np

    from schemas.encodings import get_encoding
    from schemas.search_space import ARCH_FIELD, RANK_FIELDS, TASKS
    from tasks.files.reading import read_competition_file
    from tasks.paths import shared_train_path
    from tasks.predict.fitting import one_blas_thread_per_fit
    from tasks.predict.predictors import DEFAULT_PREDICTOR, get_predictor_class, make_predictor
    from tasks.search.budget import parse_budget
    from tasks.search.choose import search_with
    from tasks.search.objective import build_objective
    from tasks.search.parameters import SearchParameters

    one_blas_thread_per_fit()
    frame, _ = read_competition_file(shared_train_path())
    archs = list(frame[ARCH_FIELD])
    cls = get_predictor_class(DEFAULT_PREDICTOR)
    X = get_encoding(cls.encoding).build(archs)
    Y = np.column_stack([frame[f].to_numpy(np.float64) for f in RANK_FIELDS])
    shared = cls.fit_shared(X, Y) if cls.uses_shared else None
    models = {
        t: make_predictor(DEFAULT_PREDICTOR).fit(X, Y[:, i], shared=shared)
        for i, t in enumerate(TASKS)
    }
    objective_fn = build_objective(models, archs, task=objective)
    run = SearchParameters(
        train=None,
        objective=objective,
        budget=parse_budget("params=70M"),
        latency_table=None,
        top=10,
        predictor=DEFAULT_PREDICTOR,
        out=Path("."),
        image_size=224,
        max_evals=max_evals,
    )
    before = _peak_rss_mb()
    cpu, wall = time.process_time(), time.perf_counter()
    search_with(objective_fn, archs, run, None)
    return {
        "objective": objective,
        "max_evals": max_evals,
        "cpu_s": time.process_time() - cpu,
        "wall_s": time.perf_counter() - wall,
        "rss_before_mb": before,
        "rss_peak_mb": _peak_rss_mb(),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--one", nargs=2, metavar=("OBJECTIVE", "MAX_EVALS"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.one:
        sys.stdout.write(json.dumps(one_run(args.one[0], int(args.one[1]))) + "\n")
        return
    counts = (2_000, 10_000) if args.quick else (5_000, 50_000, 200_000)
    rows = []
    for objective in OBJECTIVES:
        for count in counts:
            done = subprocess.run(
                [sys.executable, __file__, "--one", objective, str(count)],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
            sys.stderr.write(f"{rows[-1]}\n")
    lines = [
        "| objective | max_evals | CPU ms per evaluation | wall | peak RSS above the fitted process |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        per = 1e3 * r["cpu_s"] / (2 * r["max_evals"])  # the front and the picks
        grown = r["rss_peak_mb"] - r["rss_before_mb"]
        lines.append(
            f"| {r['objective']} | {r['max_evals']:,} | {per:.3f} | {r['wall_s']:.1f} s | "
            f"{grown:.0f} MB |"
        )
    text = "\n".join(lines) + "\n"
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
