"""Every `ufo` command and its options, as data: `flows/cli.py` builds the parser from
this table. A command is its help line, its handler and its options; an option is its
flags and argparse's keyword arguments."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from flows import commands, latency_commands
from flows.runners import DEFAULT_RUNNER
from schemas.costs import DEFAULT_IMAGE_SIZE
from tasks import paths
from tasks.checks.parameters import DEMO_SEED, DEMO_TEST_SIZE, DEMO_TRAIN_SIZE
from tasks.predict.evaluate import DEFAULT_HOLDOUT
from tasks.search.parameters import (
    DEFAULT_BUDGET,
    DEFAULT_MAX_EVALS,
    DEFAULT_SEARCH_OBJECTIVE,
    DEFAULT_TOP,
)


@dataclass(frozen=True)
class Option:
    flags: tuple[str, ...]
    settings: dict[str, Any]


def opt(*flags: str, **settings: Any) -> Option:
    return Option(flags, settings)


@dataclass(frozen=True)
class Command:
    help: str
    handler: Any
    options: tuple[Option, ...]


PREDICTOR = opt(
    "--predictor", help="registered predictor (see `ufo predictors`; default: the benchmark's best)"
)
HOLDOUT_SEED = opt(
    "--holdout-seed", type=int, default=0, help="shuffles the kfold:K holdout folds (default 0)"
)
RUNNER = opt(
    "--runner", default=DEFAULT_RUNNER, help="threads, dask (local cluster) or tcp://HOST:PORT"
)
VERBOSE = opt(
    "--verbose",
    action="store_true",
    help="show the full Prefect and library logs on the console (they always go to the log file)",
)

RUN = (
    opt("--train", help="training JSON (default: the demo file)"),
    opt("--test", help="test JSON (default: the demo file)"),
    opt("--out", help="submission path (default: data/submissions/demo_submission.json)"),
    PREDICTOR,
    opt(
        "--holdout",
        default=DEFAULT_HOLDOUT,
        help=f"last:N, kfold:K or none (default {DEFAULT_HOLDOUT})",
    ),
    HOLDOUT_SEED,
    opt(
        "--refit",
        action="store_true",
        help="recompute the fits even if their results are cached under data/prefect-results",
    ),
    opt("--force", action="store_true", help="replace --out even if ufo did not write it"),
    RUNNER,
    opt("--fault", help=argparse.SUPPRESS),  # testing aid: fail a step once, e.g. fit:vehicleid
)

SEARCH = (
    opt("--train", help="labelled training JSON (default: the demo file)"),
    opt(
        "--task",
        default=DEFAULT_SEARCH_OBJECTIVE,
        help="a task (market1501), a group (face, person, vehicle, product), all, or a list with "
        "optional weights (cplfw:2,person:1); default: all",
    ),
    opt(
        "--budget",
        action="append",
        help="params=60M, macs=15G or latency=12ms; latency needs --latency-table; once per "
        f"chip for several chips (default {DEFAULT_BUDGET})",
    ),
    opt(
        "--latency-table",
        action="append",
        help="latency lookup table (ufo measure-latency); the n-th goes with the n-th latency budget",
    ),
    opt("--chips", help="a chips file: [{name, budget, latency_table}, ...] instead of --budget"),
    opt("--top", type=int, default=DEFAULT_TOP, help="how many picks"),
    opt("--predictor", help="registered predictor (default: the benchmark's best)"),
    opt("--out", help="report folder (default: data/search)"),
    opt(
        "--image-size",
        type=int,
        default=DEFAULT_IMAGE_SIZE,
        help=f"input size for MACs (default {DEFAULT_IMAGE_SIZE}, UFO's evaluation size)",
    ),
    opt(
        "--max-evals",
        type=int,
        default=DEFAULT_MAX_EVALS,
        help=f"model evaluations for a non-additive predictor's search (default {DEFAULT_MAX_EVALS})",
    ),
    opt("--runner", default=DEFAULT_RUNNER, help="threads, dask or tcp://HOST:PORT"),
    opt("--force", action="store_true", help="replace outputs even if ufo did not write them"),
)

MEASURE_LATENCY = (
    opt("--out", required=True, help="latency table JSON to write"),
    opt("--image-size", type=int, default=DEFAULT_IMAGE_SIZE),
    opt("--repeats", type=int, default=7, help="timed runs per graph (median)"),
    opt("--check-archs", type=int, default=4, help="whole sub-networks to check"),
    opt(
        "--measurements-out",
        help="also write the whole-network latencies as a measurements file (for fit-latency)",
    ),
    opt(
        "--clock",
        choices=["cpu", "wall"],
        default="cpu",
        help="cpu: the computing thread's CPU time, steady on a shared machine (default); wall: elapsed time",
    ),
    opt("--force", action="store_true", help="replace outputs even if ufo did not write them"),
)

COMMANDS: dict[str, Command] = {
    "run": Command(
        "run the pipeline flow: validate, fit, evaluate, write a checked submission",
        commands.cmd_run,
        RUN,
    ),
    "evaluate": Command(
        "fit and score on a labelled file only",
        commands.cmd_evaluate,
        (
            opt("--train", required=True),
            opt("--predictor"),
            opt("--holdout", default=DEFAULT_HOLDOUT),
            opt(
                "--holdout-seed", type=int, default=0, help="shuffles the kfold:K folds (default 0)"
            ),
            opt("--json", action="store_true", help="print one JSON object"),
        ),
    ),
    "validate": Command(
        "check a file against its Great Expectations suite",
        commands.cmd_validate,
        (
            opt("file"),
            opt("--kind", required=True, choices=["train", "test", "submission"]),
            opt("--test", help="for --kind submission: the test file it answers"),
        ),
    ),
    "make-test": Command(
        "write a stand-in test file (ranks all 0)",
        commands.cmd_make_test,
        (
            opt("--train", required=True),
            opt("--out", required=True),
            opt("--n", type=int, default=99_500),
            opt("--seed", type=int, default=0, help="seeds the arch sampler"),
        ),
    ),
    "make-demo": Command(
        "write the SYNTHETIC demo training file and a demo test file",
        commands.cmd_make_demo,
        (
            opt("--out", default=str(paths.demo_train_path())),
            opt("--test-out", default=str(paths.demo_test_path())),
            opt("--n", type=int, default=DEMO_TRAIN_SIZE),
            opt("--n-test", type=int, default=DEMO_TEST_SIZE),
            opt("--seed", type=int, default=DEMO_SEED, help="seeds the synthetic data"),
        ),
    ),
    "search": Command(
        "choose sub-networks to deploy: the best predicted within a budget, and the Pareto front",
        commands.cmd_search,
        SEARCH,
    ),
    "propose": Command(
        "choose which unmeasured sub-networks to evaluate next on the supernet, within a budget",
        commands.cmd_propose,
        (
            opt(
                "--train",
                help="labelled training file: ranks or your measured scores (default: the demo file)",
            ),
            opt(
                "--task",
                default=DEFAULT_SEARCH_OBJECTIVE,
                help="as for `ufo search` (default: all)",
            ),
            opt(
                "--budget", help=f"params=60M, macs=15G or latency=12ms (default {DEFAULT_BUDGET})"
            ),
            opt("--latency-table", help="latency lookup table, for a latency budget"),
            opt("--n", type=int, default=5, help="how many sub-networks to propose (default 5)"),
            opt("--predictor", help="registered predictor (default: the benchmark's best)"),
            opt("--out", help="report folder (default: data/search, beside the search's report)"),
            opt(
                "--force",
                action="store_true",
                help="replace proposals files even if ufo did not write them",
            ),
            opt("--image-size", type=int, default=DEFAULT_IMAGE_SIZE, help="input size for MACs"),
            opt(
                "--max-evals",
                type=int,
                default=DEFAULT_MAX_EVALS,
                help="model evaluations for the candidate search",
            ),
            opt("--runner", default=DEFAULT_RUNNER, help="threads, dask or tcp://HOST:PORT"),
        ),
    ),
    "export": Command(
        "write a sub-network in VIMER-UFO's own config shape (set_sample_config), with the builder's arguments",
        commands.cmd_export,
        (
            opt("arch", help="the 37-character arch code"),
            opt("--format", choices=["json", "py"], default="json", help="json (default) or py"),
            opt("--out", help="file to write (default: print it)"),
            opt(
                "--image-size",
                type=int,
                default=DEFAULT_IMAGE_SIZE,
                help="the builder's input size",
            ),
        ),
    ),
    "measure-latency": Command(
        "measure a latency table on this CPU (onnxruntime, 1 thread) and check it on whole sub-networks",
        latency_commands.cmd_measure_latency,
        MEASURE_LATENCY,
    ),
    "fit-latency": Command(
        "fit a latency table to measured sub-networks (NNLS, leave-one-out error)",
        latency_commands.cmd_fit_latency,
        (
            opt("--measurements", required=True, help='JSON {"<arch>": ms, ...}'),
            opt("--out", required=True, help="latency table JSON to write"),
            opt(
                "--force",
                action="store_true",
                help="replace outputs even if ufo did not write them",
            ),
        ),
    ),
    "predictors": Command("list registered predictors", commands.cmd_predictors, ()),
}
# Every command takes these too.
COMMON_OPTIONS = (VERBOSE,)
