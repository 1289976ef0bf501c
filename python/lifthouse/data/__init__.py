"""Data in (SPEC 1): the raw layer (schema, checks, the one writer), import, ingest, the sample market, preflight."""
