"""Prefect 3 around the harvest pipeline: the `harvest` flow, one deployment per
schedule kept in line with the database, on-demand runs, workers, and the embedded
Prefect server. Nothing outside this package imports Prefect."""
