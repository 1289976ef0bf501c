"""The executive summary of a run, rendered from its exported tables (inputs -> answers, checks, sections, caveats -> markdown; figures; write)."""
