"""Prefect deployments of the ufo-nas pipeline and the process that serves them."""
