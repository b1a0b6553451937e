"""The Prefect steps: the only package under tasks/ that imports Prefect (`make lint`
checks it). pipeline.py and search.py hold each flow's steps, common.py the steps both
share, policies.py the fits' cache policy and result storage."""
