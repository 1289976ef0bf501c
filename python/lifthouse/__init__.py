"""lifthouse: a SQL-first research warehouse for crypto market events (dbt + DuckDB)."""

__version__ = "0.1.0"
