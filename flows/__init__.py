"""Prefect flows and tasks: each module defines flows or tasks that call the engines.

Importing a flow module sets no Prefect settings: the process that starts a flow does
(`prefsmith.runtime.prefect_env.configure_prefect`, called by the CLI).
"""
