"""The `ufo` commands and their options, as one table; `build_parser` makes the argparse
parser from it. Each option is argparse's own keywords, so help texts, defaults and error
messages are argparse's."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

from flows import commands, latency_commands
from flows.runners import DEFAULT_RUNNER
from schemas.costs import DEFAULT_IMAGE_SIZE
from tasks import paths
from tasks.checks.parameters import (
    DEFAULT_BUDGET,
    DEFAULT_MAX_EVALS,
    DEFAULT_SEARCH_OBJECTIVE,
    DEFAULT_TOP,
    DEMO_SEED,
    DEMO_TEST_SIZE,
    DEMO_TRAIN_SIZE,
)

DESCRIPTION = "Predict VIMER-UFO sub-network ranks on eight tasks."
Option = tuple[tuple[str, ...], dict]


def opt(*flags: str, **keywords) -> Option:
    """One option: argparse's `add_argument(*flags, **keywords)`."""
    return flags, keywords


@dataclass(frozen=True)
class Command:
    help: str
    handler: Callable[[argparse.Namespace], int]
    options: tuple[Option, ...] = ()


# Options several commands share.
REQUIRED_TRAIN = opt("--train", required=True)
PREDICTOR = opt("--predictor", help="registered predictor (default: the benchmark's best)")
RUNNER = opt("--runner", default=DEFAULT_RUNNER, help="threads, dask or tcp://HOST:PORT")
LATENCY_TABLE_OUT = opt("--out", required=True, help="latency table JSON to write")
VERBOSE = opt(
    "--verbose",
    action="store_true",
    help="show the full Prefect and library logs on the console (they always go to the log file)",
)

COMMANDS: dict[str, Command] = {
    "run": Command(
        "run the pipeline flow: validate, fit, evaluate, write a checked submission",
        commands.cmd_run,
        (
            opt("--train", help="training JSON (default: the demo file)"),
            opt("--test", help="test JSON (default: the demo file)"),
            opt("--out", help="submission path (default: data/submissions/demo_submission.json)"),
            opt(
                "--predictor",
                help="registered predictor (see `ufo predictors`; default: the benchmark's best)",
            ),
            opt("--holdout", default="last:100", help="last:N, kfold:K or none (default last:100)"),
            opt(
                "--holdout-seed",
                type=int,
                default=0,
                help="shuffles the kfold:K holdout folds (default 0)",
            ),
            opt(
                "--refit",
                action="store_true",
                help="recompute the fits even if their results are cached under data/prefect-results",
            ),
            opt("--force", action="store_true", help="replace --out even if ufo did not write it"),
            opt(
                "--runner",
                default=DEFAULT_RUNNER,
                help="threads, dask (local cluster) or tcp://HOST:PORT",
            ),
            # A testing aid: fail a step once, e.g. fit:vehicleid.
            opt("--fault", help=argparse.SUPPRESS),
        ),
    ),
    "evaluate": Command(
        "fit and score on a labelled file only",
        commands.cmd_evaluate,
        (
            REQUIRED_TRAIN,
            opt("--predictor"),
            opt("--holdout", default="last:100"),
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
            REQUIRED_TRAIN,
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
        (
            opt("--train", help="labelled training JSON (default: the demo file)"),
            opt(
                "--task",
                default=DEFAULT_SEARCH_OBJECTIVE,
                help="one task (e.g. market1501) or all: the mean of the eight standardised (default: all)",
            ),
            opt(
                "--budget",
                default=DEFAULT_BUDGET,
                help=f"params=60M, macs=15G or latency=12ms; latency needs --latency-table (default {DEFAULT_BUDGET})",
            ),
            opt("--latency-table", help="latency lookup table (ufo measure-latency)"),
            opt("--top", type=int, default=DEFAULT_TOP, help="how many picks"),
            PREDICTOR,
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
            RUNNER,
        ),
    ),
    "measure-latency": Command(
        "measure a latency table on this CPU (onnxruntime, 1 thread) and check it on whole sub-networks",
        latency_commands.cmd_measure_latency,
        (
            LATENCY_TABLE_OUT,
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
        ),
    ),
    "fit-latency": Command(
        "fit a latency table to measured sub-networks (NNLS, leave-one-out error)",
        latency_commands.cmd_fit_latency,
        (opt("--measurements", required=True, help='JSON {"<arch>": ms, ...}'), LATENCY_TABLE_OUT),
    ),
    "predictors": Command("list registered predictors", commands.cmd_predictors),
}


def build_parser(table: dict[str, Command] = COMMANDS) -> argparse.ArgumentParser:
    """The `ufo` parser: one sub-command per table row, each with `--verbose` last."""
    parser = argparse.ArgumentParser(prog="ufo", description=DESCRIPTION)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, command in table.items():
        command_parser = sub.add_parser(name, help=command.help)
        for flags, keywords in (*command.options, VERBOSE):
            command_parser.add_argument(*flags, **keywords)
        command_parser.set_defaults(handler=command.handler)
    return parser
