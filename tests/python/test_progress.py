"""The build progress of the run log (lifthouse.run.progress): one line per model start and end with
the count of nodes and tests done, failures shown, passing tests and dbt's raw lines not."""

from lifthouse.run.progress import DbtProgress

DBT_LINES = """\
10:00:00  Running with dbt=1.11.16
10:00:01  Found 31 models, 6 seeds, 221 data tests, 5 sources, 552 macros, 21 unit tests
10:00:01  1 of 1 START hook: lifthouse.on-run-start.0 .................. [RUN]
10:00:01  1 of 1 OK hook: lifthouse.on-run-start.0 ..................... [OK in 0.05s]
10:00:02  1 of 5 START sql table model main.int_perp_bars_gridded .......... [RUN]
10:00:09  1 of 5 OK created sql table model main.int_perp_bars_gridded ..... [OK in 7.12s]
10:00:09  2 of 5 START test unique_combination_int_perp_bars_gridded_symbol__open_time  [RUN]
10:00:10  2 of 5 PASS unique_combination_int_perp_bars_gridded_symbol__open_time .. [PASS in 1.01s]
10:00:10  3 of 5 START test not_null_int_perp_bars_gridded_symbol ........ [RUN]
10:00:10  3 of 5 FAIL 2 not_null_int_perp_bars_gridded_symbol ............ [FAIL 2 in 0.20s]
10:00:10  4 of 5 START python table model main.phase2_trades ............. [RUN]
10:00:12  4 of 5 ERROR creating python table model main.phase2_trades .... [ERROR in 2.00s]
10:00:12  5 of 5 START seed file main.candidate_horizons ................. [RUN]
10:00:12  5 of 5 OK loaded seed file main.candidate_horizons ............. [INSERT 4 in 0.06s]
10:00:13  Finished running 1 seed, 2 table models, 2 data tests in 0 hours 0 minutes and 11 seconds.
10:00:13  Completed with 2 errors, 0 partial successes, and 0 warnings:
10:00:13  Failure in test not_null_int_perp_bars_gridded_symbol (models/x.yml)
""".splitlines()


def _feed(verbose: bool) -> tuple[list[str], list[str], DbtProgress]:
    shown: list[str] = []
    raw: list[str] = []
    progress = DbtProgress(shown.append, verbose=verbose, raw=raw.append)
    for line in DBT_LINES:
        progress(line)
    return shown, raw, progress


def test_models_start_and_finish_with_counts_tests_are_counted_not_listed():
    shown, raw, progress = _feed(verbose=False)
    assert raw == []
    text = "\n".join(shown)
    assert "build    1/5  int_perp_bars_gridded (table) ..." in shown
    assert any(s.startswith("build    1/5  int_perp_bars_gridded done in 7.12s  (1/5 nodes done")
               for s in shown)
    # the seed line after the failed test: 5 nodes done, of which one test passed and one failed
    assert "(5/5 nodes done, 1 tests passed)" in text
    # one closing count just before dbt's summary (tests passing after the last model count)
    i = shown.index("build    5/5 nodes done, 1 tests passed")
    assert shown[i + 1].startswith("  dbt| Finished running")
    # dbt's on-run-start hook ("1 of 1") is neither shown nor counted as a node of the build
    assert not any(s.startswith("build    1/1") for s in shown)
    assert "unique_combination_int_perp_bars_gridded" not in text  # a passing test: no line
    assert "FAIL 2 not_null_int_perp_bars_gridded_symbol" in text  # a failing one: a line
    assert "ERROR creating python table model main.phase2_trades" in text
    assert "Found 31 models" in text and "Failure in test not_null" in text  # header, summary
    assert "START" not in text and "Running with dbt" not in text
    assert progress.problems == ["FAIL not_null_int_perp_bars_gridded_symbol",
                                 "ERROR phase2_trades"]


def test_verbose_passes_every_raw_line_through():
    shown, raw, _ = _feed(verbose=True)
    assert raw == ["  dbt| " + line for line in DBT_LINES]
    assert shown == []
