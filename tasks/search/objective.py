"""What the search maximises: predicted goodness of archs, for one task or several.

An `Objective` wraps fitted predictors (one per task, all on one encoding) and an
objective spec (schemas/objectives.py: a task, a group, "all" or a weighted list). For
one task its `goodness` is that task's goodness (tasks.predict.predictors.base.goodness of the
predictor's scores), as it is. For several it is the weighted mean over the chosen tasks
of each task's goodness standardised with the mean and std of that task's goodness on
the training archs (so no task dominates because its scores happen to spread wider).

When every predictor the objective uses is additive on the one-hot encoding (ridge),
`additive()` returns the objective as an `AdditiveScore`: a term per depth plus a term
per (layer, layer kind), in goodness units; the exact front (front.py) needs that form."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Protocol

import numpy as np

from schemas.costs import LAYER_KINDS, N_KINDS, kind_matrix
from schemas.encodings import get_encoding
from schemas.objectives import ALL_TASKS, describe_weights, parse_task_spec
from schemas.search_space import MAX_DEPTH, TASKS
from tasks.predict.predictors.base import Predictor, goodness
from tasks.predict.predictors.ridge import RidgePredictor


@dataclass(frozen=True, eq=False)  # an array field: compare the fields, not the scores
class AdditiveScore:
    """score(arch) = depth_terms[depth] + sum over layers i < depth of layer_terms[i, kind_i].

    The allowed depths are the keys of `depth_terms` (each term includes any intercept).
    Layer kinds are indexed as in schemas.costs.LAYER_KINDS for the real space; toy
    spaces in tests use any number of layers and kinds."""

    depth_terms: Mapping[int, float]
    layer_terms: np.ndarray  # (n_layers, n_kinds), goodness units

    def __post_init__(self) -> None:
        terms = np.asarray(self.layer_terms, dtype=np.float64)
        if terms.ndim != 2 or not np.all(np.isfinite(terms)):
            raise ValueError(f"layer_terms must be a finite 2-D array, got shape {terms.shape}")
        if not self.depth_terms:
            raise ValueError("an additive score needs at least one allowed depth")
        for depth, term in self.depth_terms.items():
            if not 0 <= int(depth) <= terms.shape[0] or not np.isfinite(term):
                raise ValueError(f"depth {depth} (term {term}) is outside 0..{terms.shape[0]}")
        object.__setattr__(self, "layer_terms", terms)
        object.__setattr__(
            self, "depth_terms", {int(d): float(t) for d, t in sorted(self.depth_terms.items())}
        )

    @property
    def depths(self) -> tuple[int, ...]:
        return tuple(self.depth_terms)

    def of_kinds(self, kinds: np.ndarray) -> np.ndarray:
        """Scores of archs given as an (n, n_layers) kind matrix, -1 past the depth.

        Summed layer by layer in layer order, then the depth term: the order the exact
        front's dynamic programming adds them in, so both give identical floats."""
        kinds = np.asarray(kinds)
        depth = (kinds >= 0).sum(axis=1)
        total = np.zeros(len(kinds))
        for layer in range(kinds.shape[1]):
            total = total + self._padded[layer, kinds[:, layer]]
        by_depth = np.full(kinds.shape[1] + 1, np.nan)
        by_depth[list(self.depth_terms)] = list(self.depth_terms.values())
        if np.isnan(by_depth[depth]).any():
            unknown = sorted(set(depth[np.isnan(by_depth[depth])].tolist()))
            raise ValueError(f"depths {unknown} are not allowed by this score")
        return total + by_depth[depth]

    @cached_property
    def _padded(self) -> np.ndarray:
        """layer_terms with a zero column for absent layers (kind -1): adding 0.0 leaves
        a float unchanged, so the sums match the DP's bit for bit."""
        return np.concatenate([self.layer_terms, np.zeros((len(self.layer_terms), 1))], axis=1)

    def of_archs(self, codes: Sequence[str]) -> np.ndarray:
        """Scores of 37-character arch strings (the real space: 12 layers, 9 kinds)."""
        return self.of_kinds(kind_matrix(codes))


class SearchObjective(Protocol):
    """What the searches need from an objective (tests pass toy objectives)."""

    def goodness(self, codes: Sequence[str]) -> np.ndarray: ...

    def additive(self) -> AdditiveScore | None: ...


@dataclass(frozen=True, eq=False)
class Objective:
    """Predicted goodness of archs for the objective spec `task`; see the module doc."""

    predictors: Mapping[str, Predictor]
    task: str  # the objective spec, e.g. "market1501", "all", "cplfw:2,person"
    tasks: tuple[str, ...]  # the predictors' tasks, in TASKS order (per_task's columns)
    weights: np.ndarray  # (T,), sums to 1; one-hot on the task for a single task
    means: np.ndarray  # (T,) goodness mean on the training archs
    stds: np.ndarray  # (T,) goodness std on the training archs
    encoding: str
    standardised: bool  # several tasks: each task's goodness standardised, then weighed

    @property
    def description(self) -> str:
        """The objective in words, for reports: e.g. 'mean of all 8 tasks'."""
        return describe_weights(dict(zip(self.tasks, self.weights.tolist(), strict=True)))

    def _features(self, codes: Sequence[str]) -> np.ndarray:
        return get_encoding(self.encoding).build(list(codes))

    def _task_goodness(self, task: str, X: np.ndarray) -> np.ndarray:
        return goodness(self.predictors[task].predict(X))

    def goodness(self, codes: Sequence[str]) -> np.ndarray:
        """(n,) the objective: higher is better. Only tasks with weight > 0 are scored."""
        X = self._features(codes)
        if not self.standardised:
            return self._task_goodness(self.tasks[int(np.argmax(self.weights))], X)
        total = np.zeros(len(X))
        for t, task in enumerate(self.tasks):
            if self.weights[t] > 0:
                z = (self._task_goodness(task, X) - self.means[t]) / self.stds[t]
                total += self.weights[t] * z
        return total

    def per_task(self, codes: Sequence[str]) -> np.ndarray:
        """(n, T) raw predicted goodness per task (columns in `tasks` order), for reports."""
        X = self._features(codes)
        if len(X) == 0:
            return np.zeros((0, len(self.tasks)))
        return np.column_stack([self._task_goodness(task, X) for task in self.tasks])

    def additive(self) -> AdditiveScore | None:
        """The objective as an AdditiveScore when every used predictor is additive on the
        one-hot encoding (ridge), else None."""
        used = [t for t, task in enumerate(self.tasks) if self.weights[t] > 0]
        parts = [_onehot_linear_terms(self.predictors[self.tasks[t]]) for t in used]
        if any(part is None for part in parts):
            return None
        depth_terms = {d: 0.0 for d in parts[0][0]}
        layer_terms = np.zeros_like(parts[0][1])
        for t, (depths, layers) in zip(used, parts, strict=True):
            if self.standardised:
                scale = self.weights[t] / self.stds[t]
                shift = self.weights[t] * self.means[t] / self.stds[t]
            else:
                scale, shift = 1.0, 0.0
            for d in depth_terms:
                depth_terms[d] += scale * depths[d] - shift
            layer_terms += scale * layers
        return AdditiveScore(depth_terms, layer_terms)


def _onehot_linear_terms(predictor: Predictor) -> tuple[dict[int, float], np.ndarray] | None:
    """(depth terms, (12, 9) layer terms) in goodness units of a ridge predictor on the
    one-hot encoding, read from its weights; None for any other predictor."""
    if not isinstance(predictor, RidgePredictor) or predictor.encoding != "onehot":
        return None
    names = get_encoding("onehot").feature_names()
    weight = dict(zip(names, np.asarray(predictor.weights_, dtype=np.float64), strict=True))
    # goodness is linear (see its docstring), so it applies term by term.
    depth_terms = {
        d: float(goodness(np.array(predictor.intercept_ + weight[f"depth_{d}"])))
        for d in (10, 11, 12)
    }
    layer_terms = np.zeros((MAX_DEPTH, N_KINDS))
    for layer in range(MAX_DEPTH):
        for kind, (h, m) in enumerate(LAYER_KINDS):
            score = weight[f"L{layer + 1}_heads_{h}"] + weight[f"L{layer + 1}_mlp_{m}"]
            layer_terms[layer, kind] = float(goodness(np.array(score)))
    return depth_terms, layer_terms


def _fitted_tasks(predictors: Mapping[str, Predictor]) -> tuple[tuple[str, ...], str]:
    """The predictors' tasks in TASKS order and their one shared encoding."""
    unknown = sorted(set(predictors) - set(TASKS))
    if not predictors or unknown:
        raise ValueError(f"need predictors keyed by task names {TASKS}, got unknown {unknown}")
    tasks = tuple(t for t in TASKS if t in predictors)
    encodings = {predictors[t].encoding for t in tasks}
    if len(encodings) != 1:
        raise ValueError(f"all predictors must share one encoding, got {sorted(encodings)}")
    return tasks, encodings.pop()


def _all_task_weights(tasks: tuple[str, ...], weights: Mapping[str, float] | None) -> np.ndarray:
    """The "all" objective: every fitted task, weighed by `weights` (unnamed tasks weigh 1)."""
    stray = sorted(set(weights or {}) - set(tasks))
    if stray:
        raise ValueError(f"weights name tasks without a predictor: {stray}")
    w = np.array([float((weights or {}).get(t, 1.0)) for t in tasks])
    if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError(f"task weights must be finite, >= 0 and not all 0, got {w.tolist()}")
    return w


def _spec_weights(tasks: tuple[str, ...], spec: str) -> np.ndarray:
    """Any other spec: its tasks' weights (TaskSpecError for a bad spec), 0 elsewhere."""
    chosen = parse_task_spec(spec)
    missing = [t for t in chosen if t not in tasks]
    if missing:
        raise ValueError(f"objective {spec!r} needs predictors for {missing}; fitted: {tasks}")
    return np.array([chosen.get(t, 0.0) for t in tasks])


def build_objective(
    predictors: Mapping[str, Predictor],
    train_archs: Sequence[str],
    task: str = ALL_TASKS,
    weights: Mapping[str, float] | None = None,
) -> Objective:
    """An objective over fitted predictors (task -> predictor, all on one encoding).

    `task` is an objective spec (schemas/objectives.py): one task, a group, "all" or a
    weighted list. "all" alone means every fitted task, and only it takes `weights`
    (task -> weight >= 0, unnamed tasks weigh 1). The standardisation of several tasks
    uses each task's goodness on `train_archs` (the archs it was fitted on)."""
    tasks, encoding = _fitted_tasks(predictors)
    if weights is not None and task != ALL_TASKS:
        raise ValueError("weights apply to the 'all' objective only")
    if task == ALL_TASKS:
        w = _all_task_weights(tasks, weights)
    else:
        w = _spec_weights(tasks, task)
    w = w / w.sum()
    # "all" stays standardised even when weights leave one task, as it always was
    standardised = task == ALL_TASKS or np.count_nonzero(w) > 1
    X = get_encoding(encoding).build(list(train_archs))
    if len(X) < 2:
        raise ValueError("standardisation needs at least 2 training archs")
    train_goodness = np.column_stack([goodness(predictors[t].predict(X)) for t in tasks])
    means, stds = train_goodness.mean(axis=0), train_goodness.std(axis=0)
    flat = [t for t, s, wt in zip(tasks, stds, w, strict=True) if wt > 0 and not s > 0]
    if standardised and flat:
        raise ValueError(f"predictions are constant on the training archs for {flat}")
    return Objective(
        predictors=dict(predictors),
        task=task,
        tasks=tasks,
        weights=w,
        means=means,
        stds=stds,
        encoding=encoding,
        standardised=standardised,
    )


# ---------------------------------------------------------------- predictive sd


def sd_per_task(objective: Objective, codes: Sequence[str]) -> np.ndarray:
    """(n, T) each task's predictive sd on its goodness scale (= the score scale: goodness
    is -score), columns in `objective.tasks` order."""
    if len(codes) == 0:
        return np.zeros((0, len(objective.tasks)))
    X = get_encoding(objective.encoding).build(list(codes))
    return np.column_stack(
        [objective.predictors[task].predict_with_sd(X)[1] for task in objective.tasks]
    )


def objective_sd(objective: Objective, per_task_sd: np.ndarray) -> np.ndarray:
    """(n,) the objective's sd from the per-task sds: one task's own sd, or for a
    standardised weighted mean sqrt(sum_t (w_t / std_t)^2 sd_t^2), which assumes the
    tasks' errors independent. They are not (the tasks' ranks correlate), so this is a
    lower bound for positively correlated errors; bench/proposals.py measures the rule
    with it."""
    if not objective.standardised:
        return per_task_sd[:, int(np.argmax(objective.weights))]
    scale = objective.weights / objective.stds
    return np.sqrt((per_task_sd**2) @ (scale**2))
