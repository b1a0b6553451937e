"""What to evaluate next (issue 18): a batch of sub-networks whose measurement should most
improve the final decision within a budget, the best measured sub-network.

`choose_batch` is the rule, on predictive means and sds of the objective's goodness
(higher is better). The rule designed here, "qei", is greedy batch expected improvement: it adds,
one at a time, the candidate that most raises E[max(incumbent, best of the batch)] under
a joint Gaussian belief, estimated on one set of Monte Carlo draws shared by every
candidate (common random numbers, so the comparison between candidates is not noise).
The draws are correlated: two archs' errors have correlation exp(-hamming / length),
hamming = the number of the 12 layer positions whose kind differs (an absent layer is a
kind of its own, so depth counts). A near-copy of an arch already in the batch then adds
almost nothing to the expected best (its error is the same error), which is the
diversity term: without it, K proposals are K near-copies of one region, as the
search's top list is. "top" (predicted top k, the default: the bench found it no worse),
"ucb" (mean + 1 sd, top k) and "thompson" (one joint draw per slot, its best) are the
other rules.

`propose` takes the candidate pool from the whole space with the refined search
(`search_budget`, the objective excludes nothing), drops the labelled archs, and
applies the rule. The objective's sd assumes independent errors between tasks
(`objective_sd`). The incumbent is the best labelled arch within the budget by the
model's own fitted goodness: the candidates' means are on that scale, with the same
shrinkage, whereas a measured rank would have to be mapped through each family's target
transform and the standardisation, and a fitted value is what the model believes of
the labelled arch beside the candidates it is compared with."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from schemas.costs import AdditiveCost, kind_matrix
from tasks.files.atomic import write_bytes_atomic
from tasks.predict.predictors.base import Predictor
from tasks.safety import outputs, reports
from tasks.search.budget import cost_for
from tasks.search.objective import Objective, build_objective, objective_sd, sd_per_task
from tasks.search.parameters import SearchParameters
from tasks.search.refine import search_budget
from tasks.search.report import ScoredArchs, arch_records, csv_bytes

RULES = ("qei", "top", "ucb", "thompson")
# bench/proposals.py (bench/README.md, "What to evaluate next"): at k = 3 with the default
# predictor the predicted top k has the lower regret (5.6 against qei's 5.9, folds 6-3), so
# it is the default; qei is better only with ridge (5.8 against 5.9, folds 5-2).
DEFAULT_RULE = "top"
BEST, INFORMATIVE = "best predicted", "informative"
POOL = 300  # candidates taken from the search: a few hundred, as the search's top list
N_DRAWS = 4096  # Monte Carlo draws of the joint belief (qei, thompson)
DIVERSITY_LENGTH = 2.0  # layers: error correlation 0.61 at one layer changed, 0.08 at five
JITTER = 1e-9  # on the correlation's diagonal: exact copies make it singular

PROPOSAL_FILES = ("proposals.json", "proposals.csv")


# ---------------------------------------------------------------- the rule


def error_correlation(features: np.ndarray | None, n: int, length: float) -> np.ndarray:
    """(n, n) correlation of the candidates' errors: exp(-hamming / length) on the rows
    of `features` (a kind matrix), the identity without features. A product over layer
    positions of a valid kernel on each, so positive semi-definite."""
    if features is None:
        return np.eye(n)
    features = np.asarray(features)
    if len(features) != n:
        raise ValueError(f"{len(features)} rows of diversity features for {n} candidates")
    hamming = (features[:, None, :] != features[None, :, :]).sum(axis=2)
    return np.exp(-hamming / float(length))


def _joint_draws(means, sds, correlation, n_draws, rng) -> np.ndarray:
    """(n_draws, n) draws of the candidates' true goodness under the joint Gaussian."""
    n = len(means)
    try:
        root = np.linalg.cholesky(correlation + JITTER * np.eye(n))
    except np.linalg.LinAlgError:  # numerically indefinite: the symmetric square root
        values, vectors = np.linalg.eigh(correlation)
        root = vectors * np.sqrt(np.clip(values, 0.0, None))
    return means + sds * (rng.standard_normal((n_draws, n)) @ root.T)


def _reason(pick: int, means: np.ndarray, taken: np.ndarray) -> str:
    """ "best predicted" when the pick has the highest mean among those not yet taken."""
    return BEST if means[pick] >= means[~taken].max() else INFORMATIVE


def choose_batch(
    means: Sequence[float],
    sds: Sequence[float],
    incumbent: float,
    k: int,
    rule: str = DEFAULT_RULE,
    diversity_features: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
    length: float = DIVERSITY_LENGTH,
) -> list[tuple[int, str]]:
    """k distinct candidate indices, in the order chosen, each with its reason.

    means, sds: the objective's predictive mean and sd per candidate (goodness, higher is
    better); incumbent: the goodness of the best arch already measured within the budget
    (-inf when none counts). diversity_features: a kind matrix (one row per candidate),
    used by "qei" and "thompson" for the error correlation (none: independent errors)."""
    means, sds = np.asarray(means, np.float64), np.asarray(sds, np.float64)
    if rule not in RULES:
        raise ValueError(f"unknown rule {rule!r}; choose one of {', '.join(RULES)}")
    if means.shape != sds.shape or means.ndim != 1:
        raise ValueError(f"means and sds must be 1-D of one length, got {means.shape}, {sds.shape}")
    if not 1 <= k <= len(means):
        raise ValueError(f"k must be between 1 and the {len(means)} candidates, got {k}")
    if not (np.all(np.isfinite(means)) and np.all(np.isfinite(sds)) and np.all(sds >= 0)):
        raise ValueError("means must be finite and sds finite and >= 0")
    rng = np.random.default_rng(0) if rng is None else rng
    if rule in ("top", "ucb"):
        value = means if rule == "top" else means + sds
        order = np.argsort(-value, kind="stable")[:k]
        taken = np.zeros(len(means), bool)
        picks = []
        for i in order:
            picks.append((int(i), _reason(int(i), means, taken)))
            taken[i] = True
        return picks
    correlation = error_correlation(diversity_features, len(means), length)
    draws = _joint_draws(means, sds, correlation, N_DRAWS, rng)
    return (
        _greedy_expected_best(draws, means, incumbent, k)
        if rule == "qei"
        else _thompson(draws, means, k)
    )


def _greedy_expected_best(draws, means, incumbent: float, k: int) -> list[tuple[int, str]]:
    """Greedy batch EI: each step adds the candidate with the largest E[max(best so far,
    its draw)] (ties: the higher mean, then the lower index)."""
    best = np.full(len(draws), float(incumbent))
    taken = np.zeros(len(means), bool)
    picks = []
    for _ in range(k):
        value = np.maximum(draws, best[:, None]).mean(axis=0)
        value[taken] = -np.inf
        pick = int(np.lexsort((np.arange(len(means)), -means, -value))[0])
        picks.append((pick, _reason(pick, means, taken)))
        taken[pick] = True
        best = np.maximum(best, draws[:, pick])
    return picks


def _thompson(draws, means, k: int) -> list[tuple[int, str]]:
    """One joint draw per slot: its best candidate not yet taken."""
    taken = np.zeros(len(means), bool)
    picks = []
    for row in draws[:k]:
        pick = int(np.argmax(np.where(taken, -np.inf, row)))
        picks.append((pick, _reason(pick, means, taken)))
        taken[pick] = True
    return picks


# ---------------------------------------------------------------- the incumbent


def labelled_incumbent(
    objective: Objective, train_archs: Sequence[str], cost: AdditiveCost, limit: float
) -> float:
    """The model's fitted goodness of the best labelled arch within the budget (module
    doc); -inf when no labelled arch fits."""
    within = [a for a, c in zip(train_archs, cost.of_archs(train_archs), strict=True) if c <= limit]
    return float(objective.goodness(within).max()) if within else -np.inf


# ---------------------------------------------------------------- propose


@dataclass(frozen=True)
class Proposals:
    scored: ScoredArchs  # the proposals in the order chosen, predicted goodness and sds
    reasons: list[str]
    rule: str
    objective: str  # the objective spec
    incumbent: float  # goodness of the best labelled arch within the budget (-inf: none)
    pool: int  # candidates the rule chose from
    image_size: int
    latency: AdditiveCost | None


def candidate_pool(
    objective: Objective,
    train_archs: Sequence[str],
    cost: AdditiveCost,
    limit: float,
    max_evals: int,
    seed: int = 0,
    size: int = POOL,
) -> list[str]:
    """The search's best `size` archs within the budget, best first, without the labelled ones."""
    found = search_budget(objective, cost, limit, max_evals=max_evals, seed=seed, top=size)
    labelled = set(train_archs)
    archs = [c.arch for c in found if c.arch not in labelled]
    exact = cost.of_archs(archs) if archs else np.zeros(0)
    return [a for a, c in zip(archs, exact, strict=True) if c <= limit]  # unquantised cost


def propose(
    models: Mapping[str, Predictor],
    train_archs: Sequence[str],
    run: SearchParameters,
    latency: AdditiveCost | None,
    n: int,
    rule: str = DEFAULT_RULE,
    seed: int = 0,
) -> Proposals:
    """n distinct archs to measure next, none labelled, all within the run's budget."""
    objective = build_objective(models, train_archs, task=run.objective)
    cost = cost_for(run.budget.metric, run.image_size, latency)
    pool = candidate_pool(objective, train_archs, cost, run.budget.limit, run.max_evals, seed)
    if len(pool) < n:
        raise ValueError(
            f"the search found {len(pool)} unlabelled archs within {run.budget}, fewer than "
            f"the {n} asked for; raise the evaluations or ask for fewer"
        )
    means = objective.goodness(pool)
    task_sd = sd_per_task(objective, pool)
    sd = objective_sd(objective, task_sd)
    incumbent = labelled_incumbent(objective, train_archs, cost, run.budget.limit)
    picks = choose_batch(
        means, sd, incumbent, n, rule, kind_matrix(pool), np.random.default_rng(seed)
    )
    chosen = [i for i, _ in picks]
    per_task = objective.per_task([pool[i] for i in chosen])
    return Proposals(
        scored=ScoredArchs(
            [pool[i] for i in chosen],
            means[chosen],
            {task: per_task[:, t] for t, task in enumerate(objective.tasks)},
            sd=sd[chosen],
            sd_per_task={task: task_sd[chosen, t] for t, task in enumerate(objective.tasks)},
        ),
        reasons=[reason for _, reason in picks],
        rule=rule,
        objective=run.objective,
        incumbent=incumbent,
        pool=len(pool),
        image_size=run.image_size,
        latency=latency,
    )


# ---------------------------------------------------------------- records and files


def proposal_records(proposals: Proposals) -> list[dict]:
    """One record per proposal, in the order chosen: the search report's record
    (report.arch_records, with the sds) and the reason."""
    records = arch_records(
        proposals.scored, proposals.image_size, proposals.latency, objective=proposals.objective
    )
    for record, reason in zip(records, proposals.reasons, strict=True):
        record["reason"] = reason
    return records


def write_proposals(
    out_dir: Path, records: list[dict], *, replace_any: bool = False, hint: str = ""
) -> dict[str, str]:
    """proposals.json and proposals.csv, visible together or not at all, as the search's
    report (tasks/safety/reports.py; in one folder with a search's report, each keeps the
    other's files); unless `replace_any`, a name holding a file ufo did not write is
    refused (OutputError) and nothing is replaced. name -> path."""
    out_dir = Path(out_dir)
    with reports.staged_report(
        out_dir, PROPOSAL_FILES, replace_any=replace_any, hint=hint or outputs.REPLACE_HINT_CLI
    ) as staging:
        write_bytes_atomic(
            staging / "proposals.json", (json.dumps(records, indent=1) + "\n").encode()
        )
        write_bytes_atomic(staging / "proposals.csv", csv_bytes(records))
    return {name: str(out_dir / name) for name in PROPOSAL_FILES}
