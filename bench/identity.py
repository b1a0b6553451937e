"""Byte identity against a reference commit: the same inputs through the reference code and
through this tree must give the same output bytes (issue 17, item 7: a restructure changes
no output).

For each tree (the reference checked out as a git worktree under bench/out/, and this
tree) in its own data folder, with the same Prefect server settings:
- the demo: `ufo make-demo`, then `ufo run` (default predictor and gpnas);
- the real training file (../shared/data/CCF_UFO_train.json) with the 99,500-arch stand-in
  (`ufo make-test --n 99500 --seed 0`): `ufo run --holdout none`, default predictor and gpnas;
- `ufo search --task all --budget params=60M` on the real training file: picks.json.

Prints one line per output (sha256 of both, same or DIFFERENT) and exits 1 on any
difference. The search report's JSON is compared twice: byte for byte (which later issues'
new fields, such as supernet_config, change), and with only the reference's fields kept. Usage: python bench/identity.py [--reference COMMIT] [--quick]
(--quick: the demo and the search only)."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out" / "identity"
TRAIN = ROOT.parent / "shared" / "data" / "CCF_UFO_train.json"
# The last commit before the tasks/ regrouping (issue 17).
DEFAULT_REFERENCE = "0623121"


def ufo(tree: Path, data: Path, *args: str) -> None:
    """One `ufo` command run with `tree`'s code (first on sys.path) and `data` as its folder."""
    env = {
        **os.environ,
        "PYTHONPATH": str(tree),
        "UFO_DATA_DIR": str(data),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
        "PREFECT_HOME": str(data / "prefect-home"),
    }
    command = [sys.executable, "-c", "import sys; from flows.cli import entry_point; entry_point()"]
    done = subprocess.run([*command, *args], cwd=tree, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{tree.name}: ufo {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def outputs_of(tree: Path, data: Path, quick: bool) -> dict[str, str]:
    data.mkdir(parents=True, exist_ok=True)
    digests = {}
    ufo(tree, data, "make-demo")
    for predictor in ("shared_relevance", "gpnas"):
        out = data / "submissions" / f"demo-{predictor}.json"
        ufo(tree, data, "run", "--predictor", predictor, "--out", str(out))
        digests[f"demo submission, {predictor}"] = sha256(out)
    if not quick:
        test = data / "raw" / "standin_test.json"
        ufo(
            tree,
            data,
            "make-test",
            "--train",
            str(TRAIN),
            "--out",
            str(test),
            "--n",
            "99500",
            "--seed",
            "0",
        )
        for predictor in ("shared_relevance", "gpnas"):
            out = data / "submissions" / f"real-{predictor}.json"
            ufo(
                tree,
                data,
                "run",
                "--train",
                str(TRAIN),
                "--test",
                str(test),
                "--out",
                str(out),
                "--predictor",
                predictor,
                "--holdout",
                "none",
            )
            digests[f"real train + 99,500 stand-in, {predictor}"] = sha256(out)
    report = data / "search" / "all-params-60M"
    ufo(
        tree,
        data,
        "search",
        "--train",
        str(TRAIN),
        "--task",
        "all",
        "--budget",
        "params=60M",
        "--out",
        str(report),
    )
    for name in ("picks.json", "front.json"):
        digests[f"search all params=60M, {name}"] = sha256(report / name)
        digests[f"search all params=60M, {name}, fields of the reference"] = str(report / name)
    return digests


def _common_fields_digest(mine: Path, reference: Path) -> tuple[str, str, list[str]]:
    """Digests of two report files with only the reference's fields kept in each record
    (later issues added fields, e.g. supernet_config; the values they had must not move)."""
    ours, theirs = json.loads(mine.read_text()), json.loads(reference.read_text())
    keep = set(theirs[0]) if theirs else set()
    added = sorted(set(ours[0]) - keep) if ours else []

    def digest(records):
        kept = [{k: v for k, v in r.items() if k in keep} for r in records]
        return hashlib.sha256(json.dumps(kept, sort_keys=True).encode()).hexdigest()

    return digest(theirs), digest(ours), added


def reference_tree(commit: str) -> Path:
    tree = OUT / f"reference-{commit}"
    if not tree.exists():
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(tree), commit],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
    return tree


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", default=DEFAULT_REFERENCE)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if not TRAIN.is_file():
        raise SystemExit(f"needs the real training file at {TRAIN}")
    reference = outputs_of(reference_tree(args.reference), OUT / "data-reference", args.quick)
    current = outputs_of(ROOT, OUT / "data-current", args.quick)
    same = True
    for name, digest in reference.items():
        if name.endswith("fields of the reference"):
            digest, mine, added = _common_fields_digest(Path(current[name]), Path(digest))
            current[name] = mine
            name = f"{name} (added since: {', '.join(added) or 'none'})"
            ok = mine == digest
            same &= ok
            sys.stdout.write(
                f"{'same     ' if ok else 'DIFFERENT'}  {name}: reference {digest[:16]}, now {mine[:16]}\n"
            )
            continue
        ok = current.get(name) == digest
        same &= ok
        sys.stdout.write(
            f"{'same     ' if ok else 'DIFFERENT'}  {name}: reference {digest[:16]}, now {current.get(name, '-')[:16]}\n"
        )
    (OUT / "identity.json").write_text(
        json.dumps(
            {
                "reference": args.reference,
                "reference_digests": reference,
                "current_digests": current,
                "identical": same,
            },
            indent=1,
        )
    )
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
