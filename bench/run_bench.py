"""Pipeline benchmark: `ufo run` vs the seed's bare baseline, same machine, same run.

Measures wall time and peak memory (sum of RSS over the process tree, sampled every
50 ms with psutil) for:
  1. the bare baseline (bench/bare_baseline.py),
  2. `ufo run` in ephemeral mode (no server; cold caches),
  3. `ufo run` against a running Prefect server (cold caches),
  4. the same again with warm caches (Parquet encodings and persisted fit results),
  5. for reference, `ufo run` with the default predictor (server running, cold caches).
Inputs: the real training file (../shared/data) and a 99,500-arch stand-in test file.
Writes bench/pipeline_results.md and prints it.

usage: python bench/run_bench.py [--n-test 99500] [--predictor gpnas]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil

from tasks.paths import shared_train_path
from tasks.predict.predictors import DEFAULT_PREDICTOR

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
TRAIN = shared_train_path()
BIN = Path(sys.executable).parent


def measure(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of the whole process tree of `cmd`."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    root = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        try:
            tree = [root, *root.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.05)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd} failed:\n{proc.stderr.read().decode()[-3000:]}")
    return wall, peak / 2**20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    proc = subprocess.Popen(
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"{api}/health", timeout=2):
                return proc, api
        except OSError:
            time.sleep(0.5)
    proc.terminate()
    raise RuntimeError("Prefect server did not become healthy in 120 s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-test", type=int, default=99_500)
    parser.add_argument("--predictor", default="gpnas")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ufo-bench-"))
    base_env = {
        **os.environ,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_HOME": str(work / "prefect-home"),
    }
    base_env.pop("PREFECT_API_URL", None)
    test = work / "test.json"
    subprocess.run(
        [str(BIN / "ufo"), "make-test", "--train", str(TRAIN), "--out", str(test), "--n", str(args.n_test), "--seed", "0"],
        env=base_env, check=True, cwd=ROOT, capture_output=True,
    )  # fmt: skip

    def ufo_run(data_dir: Path, env: dict[str, str], predictor: str = args.predictor) -> list[str]:
        env.update(
            UFO_DATA_DIR=str(data_dir),
            PREFECT_RESULTS_LOCAL_STORAGE_PATH=str(data_dir / "prefect-results"),
        )
        return [str(BIN / "ufo"), "run", "--train", str(TRAIN), "--test", str(test), "--out", str(data_dir / "sub.json"),
                "--predictor", predictor, "--holdout", "last:100"]  # fmt: skip

    rows = []
    wall, peak = measure(
        [
            sys.executable,
            str(BENCH / "bare_baseline.py"),
            str(TRAIN),
            str(test),
            str(work / "bare.json"),
        ],
        base_env,
    )
    rows.append(("bare baseline (seed procedure, no orchestration)", wall, peak))
    env = dict(base_env)
    rows.append(
        (
            "`ufo run`, ephemeral mode (no server), cold caches",
            *measure(ufo_run(work / "eph", env), env),
        )
    )
    server, api = start_server(base_env)
    try:
        env = {**base_env, "PREFECT_API_URL": api}
        rows.append(
            (
                "`ufo run`, Prefect server running, cold caches",
                *measure(ufo_run(work / "srv", env), env),
            )
        )
        env = {**base_env, "PREFECT_API_URL": api}
        rows.append(
            (
                "`ufo run`, Prefect server running, warm caches (second run)",
                *measure(ufo_run(work / "srv", env), env),
            )
        )
        # For reference: the project's default predictor through the same pipeline.
        env = {**base_env, "PREFECT_API_URL": api}
        default = (
            f"`ufo run --predictor {DEFAULT_PREDICTOR}` (the default), server running, cold caches"
        )
        rows.append((default, *measure(ufo_run(work / "default", env, DEFAULT_PREDICTOR), env)))
        server_rss = psutil.Process(server.pid).memory_info().rss / 2**20
    finally:
        server.terminate()
        server.wait(timeout=30)
    bare_wall = rows[0][1]
    lines = [
        f"Inputs: real training file (500 archs), stand-in test file ({args.n_test:,} archs), predictor `{args.predictor}`, holdout `last:100`.",
        f"Machine: {os.cpu_count()} cores; measured {time.strftime('%Y-%m-%d')}. Peak memory is the summed RSS of the command's process tree "
        f"(the separate Prefect server process held {server_rss:.0f} MB RSS and is not included).",
        "",
        "| run | wall time (s) | × bare | peak memory (MB) |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {name} | {wall:.1f} | {wall / bare_wall:.2f} | {peak:.0f} |"
        for name, wall, peak in rows
    ]
    text = "\n".join(lines) + "\n"
    (BENCH / "pipeline_results.md").write_text(text)
    sys.stdout.write(text)
    sys.stdout.write(json.dumps({"work": str(work)}) + "\n")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
