"""The run and its outputs (SPEC 10): the run command, config, stages, dbt invocation, export, report, manifest, bench."""
