"""Choosing sub-networks under a budget: the objective (objective.py), the exact
Pareto front for additive objectives (front.py) and the refined search with its
baselines for any objective (refine.py). Plain functions, no Prefect."""
