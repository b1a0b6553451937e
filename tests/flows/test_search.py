"""The search flow and `ufo search`, under a temporary Prefect API, on small data made in code."""

import asyncio
import json
from pathlib import Path

import pytest

from flows.cli import main
from schemas.costs import params_cost
from schemas.search_space import TASKS
from tasks.files.writing import frame_to_records, write_competition_file
from tasks.predict.synthetic import make_demo_train


@pytest.fixture(scope="module")
def train_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("search")
    path = folder / "train.json"
    write_competition_file(path, frame_to_records(make_demo_train(150, seed=11)))
    return path


async def _latest_artifacts(keys):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    async with get_client() as client:
        found = await client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=keys)),
            sort=ArtifactSort.CREATED_DESC,
        )
    latest = {}
    for artifact in found:
        latest.setdefault(artifact.key, artifact)
    return latest


async def _fit_states(flow_run_name_prefix):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.sorting import FlowRunSort

    async with get_client() as client:
        runs = await client.read_flow_runs(sort=FlowRunSort.START_TIME_DESC, limit=5)
        run = next(r for r in runs if r.name.startswith(flow_run_name_prefix))
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

        tasks = await client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id]))
        )
    return {t.name: t.state.name for t in tasks if t.name.startswith("fit-")}


def test_search_flow_writes_picks_within_budget_from_the_exact_front(prefect_harness, train_file):
    from flows.search import ufo_search

    out = train_file.parent / "report"
    cost = params_cost()
    written = ufo_search(
        train=str(train_file),
        task="market1501",
        budget="params=70M",
        predictor="ridge",
        top=5,
        out=str(out),
    )
    assert written == str(out)
    picks = json.loads((out / "picks.json").read_text())
    front = json.loads((out / "front.json").read_text())
    assert len(picks) == 5 and len({p["arch"] for p in picks}) == 5
    assert all(p["params"] <= 70e6 for p in picks)
    assert [p["predicted"] for p in picks] == sorted((p["predicted"] for p in picks), reverse=True)
    # The exact front's best point within the budget is the first pick.
    within = [f for f in front if f["params"] <= 70e6]
    assert max(f["predicted"] for f in within) == pytest.approx(picks[0]["predicted"])
    assert all(f["params"] == cost.of_archs([f["arch"]])[0] for f in front)
    costs = [f["params"] for f in front]
    assert costs == sorted(costs)
    artifacts = asyncio.run(_latest_artifacts(["search-picks", "search-front", "search-summary"]))
    assert set(artifacts) == {"search-picks", "search-front", "search-summary"}
    assert picks[0]["arch"] in artifacts["search-summary"].data

    # Same inputs again: the fit comes back Cached, the report is the same bytes.
    before = {name: (out / name).read_bytes() for name in ("picks.json", "front.json")}
    ufo_search(
        train=str(train_file),
        task="market1501",
        budget="params=70M",
        predictor="ridge",
        top=5,
        out=str(out),
    )
    assert {name: (out / name).read_bytes() for name in before} == before
    # All eight tasks are fitted whatever the objective (every task's prediction is reported).
    assert asyncio.run(_fit_states("search-market1501")) == {f"fit-{t}": "Cached" for t in TASKS}


@pytest.mark.parametrize(
    "budget, message",
    [
        ("params=abc", "'abc' is not a number followed by a unit"),
        ("params=60", "give a unit"),
        ("params=-1M", "must be positive"),
        ("latency=5ms", "needs a latency table"),
    ],
)
def test_search_rejects_bad_budgets_without_writing(train_file, tmp_path, capsys, budget, message):
    out = tmp_path / "report"
    code = main(["search", "--train", str(train_file), "--budget", budget, "--out", str(out)])
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not out.exists()


def test_search_below_the_smallest_subnetwork_names_its_cost(
    train_file, tmp_path, capsys, prefect_harness
):
    out = tmp_path / "report"
    args = ["search", "--train", str(train_file), "--predictor", "ridge", "--out", str(out)]
    assert main([*args, "--budget", "params=40M"]) == 2
    err = capsys.readouterr().err
    assert "below the smallest sub-network" in err and "55.93M" in err and "Traceback" not in err
    assert not (out / "picks.json").exists()


def test_search_cli_prints_the_picks(train_file, tmp_path, capsys, prefect_harness):
    out = tmp_path / "report"
    args = ["search", "--train", str(train_file), "--predictor", "ridge", "--out", str(out)]
    assert main([*args, "--budget", "macs=18G", "--top", "3", "--task", "sop"]) == 0
    printed = capsys.readouterr().out
    picks = json.loads((out / "picks.json").read_text())
    assert len(picks) == 3 and all(p["macs"] <= 18e9 for p in picks)
    for pick in picks:
        assert pick["arch"] in printed
    assert f"report written to {out}" in printed


def test_search_rejects_a_malformed_latency_table_naming_entry_and_field(
    train_file, tmp_path, capsys
):
    table = tmp_path / "chip.json"
    table.write_text('{"unit": "ms", "fixed_ms": 1.0, "layers": {"heads12-mlp4.0": -3}}')
    out = tmp_path / "report"
    args = ["search", "--train", str(train_file), "--budget", "latency=100ms", "--out", str(out)]
    assert main([*args, "--latency-table", str(table)]) == 2
    err = capsys.readouterr().err
    assert str(table) in err and "heads12-mlp4.0" in err and "Traceback" not in err
    assert not out.exists()


def test_a_latency_budget_below_the_fastest_subnetwork_names_its_latency(
    train_file, tmp_path, capsys
):
    out = tmp_path / "report"
    table = str(
        Path(__file__).resolve().parents[2] / "data" / "examples" / "latency_table_cpu.json"
    )
    args = ["search", "--train", str(train_file), "--latency-table", table, "--out", str(out)]
    assert main([*args, "--budget", "latency=10ms"]) == 2
    err = capsys.readouterr().err
    assert "below the smallest sub-network" in err and " ms" in err and "Traceback" not in err
    assert not out.exists()


def _state_records(folder: Path) -> dict[Path, dict]:
    found = {}
    for path in folder.iterdir() if folder.is_dir() else ():
        blob = path.read_bytes() if path.is_file() else b""
        if blob.startswith(b"ufo-sha256:"):
            record = json.loads(blob.partition(b"\n")[2])
            if record["result"].startswith("predictor-state\n"):
                found[path] = record
    return found


def test_a_tampered_stored_search_fit_is_refitted_and_the_report_is_unchanged(
    prefect_harness, tmp_path
):
    """The search's fitted predictors are stored as plain-data state behind a sha256, never
    pickled. One flipped bit (old checksum kept) and one record rewritten with a fresh
    checksum but naming a class outside the state's list are both refused with a warning
    and refitted: the report is the clean run's, byte for byte."""
    import base64
    import hashlib
    import io
    import logging

    import numpy as np

    from flows.search import ufo_search
    from tasks import paths

    # Its own training file: fits of the module's file may be stored already by other tests.
    train = tmp_path / "train.json"
    write_competition_file(train, frame_to_records(make_demo_train(120, seed=23)))
    args = dict(train=str(train), task="sop", budget="params=75M", predictor="ridge", top=3)
    before = set(_state_records(paths.results_dir()))
    ufo_search(**args, out=str(tmp_path / "clean"))
    stored = {p: r for p, r in _state_records(paths.results_dir()).items() if p not in before}
    assert len(stored) == len(TASKS), "the search's fits were not stored as predictor states"
    flipped, foreign = sorted(stored)[:2]

    # 1. Flip the top exponent bit of the first ridge weight; keep the old checksum line.
    header, _, _ = flipped.read_bytes().partition(b"\n")
    record = stored[flipped]
    state = json.loads(record["result"].removeprefix("predictor-state\n"))
    weights = state["value"]["attributes"]["weights_"]["__array__"]
    raw = bytearray(base64.b64decode(weights["npy"]))
    array = np.load(io.BytesIO(bytes(raw)))
    start = len(raw) - array.nbytes
    raw[start + 7] ^= 0x40
    assert np.load(io.BytesIO(bytes(raw)))[0] != array[0]
    weights["npy"] = base64.b64encode(bytes(raw)).decode()
    record["result"] = "predictor-state\n" + json.dumps(state, sort_keys=True)
    flipped.write_bytes(header + b"\n" + json.dumps(record).encode())

    # 2. A record whose checksum matches but whose state names a class to build.
    record = stored[foreign]
    record["result"] = "predictor-state\n" + json.dumps(
        {"format": "ufo-predictor-state/1", "value": {"__object__": "os.system", "attributes": {}}}
    )
    content = json.dumps(record).encode()
    foreign.write_bytes(
        b"ufo-sha256:" + hashlib.sha256(content).hexdigest().encode() + b"\n" + content
    )

    messages = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda r: messages.append(r.getMessage())
    logging.getLogger("tasks.steps.result_storage").addHandler(handler)  # Prefect stops propagation
    try:
        ufo_search(**args, out=str(tmp_path / "again"))
    finally:
        logging.getLogger("tasks.steps.result_storage").removeHandler(handler)
    for name in ("picks.json", "front.json"):
        assert (tmp_path / "again" / name).read_bytes() == (tmp_path / "clean" / name).read_bytes()
    assert f"ignoring stored result {flipped}: checksum mismatch; recomputing it" in messages
    assert any(
        m.startswith(f"ignoring stored result {foreign}: unreadable result") for m in messages
    ), messages
    states = asyncio.run(_fit_states("search-sop"))
    assert sorted(states.values()).count("Cached") == len(TASKS) - 2


def test_two_chips_share_the_fits_and_get_a_section_each(prefect_harness, train_file):
    from flows.search import ufo_search

    out = train_file.parent / "two-chips"
    ufo_search(
        train=str(train_file),
        task="face,person",
        budget=["params=70M", "macs=18G"],
        predictor="ridge",
        top=3,
        out=str(out),
    )
    summary = json.loads((out / "chips.json").read_text())
    assert [row["chip"] for row in summary] == ["params-70M", "macs-18G"]
    limits = {"params-70M": ("params", 70e6), "macs-18G": ("macs", 18e9)}
    for row in summary:
        picks = json.loads((out / row["chip"] / "picks.json").read_text())
        field, limit = limits[row["chip"]]
        assert row["best_pick"] == picks[0]["arch"] and picks[0][field] <= limit
        assert row["predicted_sd"] == picks[0]["predicted_sd"] > 0
        assert picks[0]["objective"].startswith("weighted mean of cplfw")
    assert (out / "fronts.png").read_bytes().startswith(b"\x89PNG")
    states = asyncio.run(_fit_states("search-face,person"))
    assert len(states) == len(TASKS)  # one fit per task for both chips


def test_search_on_measurements_shows_the_best_measured_beside_the_best_pick(
    tmp_path, capsys, prefect_harness
):
    """A measurements file (sop as scores, missing from some entries): the report and the
    console put the best measured arch within the budget beside the best unmeasured pick,
    with the predicted gain and its sd; picks and front carry their sds."""
    from tests.factories import as_scores, without_task, write_csv

    train = make_demo_train(120, seed=12)
    records = frame_to_records(train)
    lacking = list(records)[:20]
    records = as_scores(without_task(records, "sop", lacking), ["sop"])
    path = write_csv(tmp_path / "measured.csv", records, keys=False)
    out = tmp_path / "report"
    args = ["search", "--train", str(path), "--predictor", "ridge", "--task", "sop"]
    assert main([*args, "--budget", "params=70M", "--top", "4", "--out", str(out)]) == 0
    printed = capsys.readouterr().out

    decision = json.loads((out / "decision.json").read_text())
    within = [
        (r["sop_score"], key)
        for key, r in records.items()
        if "sop_score" in r and params_cost().of_archs([r["arch"]])[0] <= 70e6
    ]
    best = records[max(within)[1]]["arch"]  # the highest measured score within the budget
    assert decision["best_measured"]["arch"] == best
    assert decision["best_measured"]["measured_rank"]["sop"]["of"] == len(records) - len(lacking)
    picks = json.loads((out / "picks.json").read_text())
    labelled = {r["arch"] for r in records.values()}
    first_unmeasured = next(p for p in picks if p["arch"] not in labelled)
    assert decision["best_unmeasured_pick"]["arch"] == first_unmeasured["arch"]
    assert decision["predicted_gain"] == pytest.approx(
        first_unmeasured["predicted"] - decision["best_measured"]["fitted"], abs=2e-6
    )
    assert decision["gain_sd"] == first_unmeasured["predicted_sd"] > 0
    front = json.loads((out / "front.json").read_text())
    assert all(p["predicted_sd"] > 0 and set(p["sd_per_task"]) == set(TASKS) for p in front)
    assert f"best measured within budget: {best}" in printed
    assert f"best unmeasured pick:        {first_unmeasured['arch']}" in printed
    assert f"predicted gain {decision['predicted_gain']:+.3f}" in printed
    assert decision["advice"] in printed
