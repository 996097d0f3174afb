"""Portable feature expressions (Ibis): written once, run on DuckDB in-process or on Spark."""
