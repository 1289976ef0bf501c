"""Build progress for the run log: which dbt node is running and how far along the build is,
from dbt's own console lines, without repeating its ~250 lines (``lifthouse run --verbose``
shows them all; dbt also keeps them in ``<target>/dbt.log``).

dbt prints one START and one result line per node (``12 of 258 START sql table model
main.int_x ... [RUN]``, ``12 of 258 OK created ... [OK in 8.12s]``, ``PASS``/``FAIL``/``WARN``/
``ERROR`` for tests). :class:`DbtProgress` turns them into

- one line when a model or seed starts (``build  12/258  int_x ...``) and one when it ends with
  its time;
- nothing for a passing data test, but a running count of tests at every model line and a line
  for every failing, erroring or warning node;
- dbt's header (``Found ...``) and everything from its closing summary on (errors and their
  SQL), unchanged, after one closing count (``build  114/114 nodes done, 78 tests passed``:
  the last model's line cannot count the tests that pass after it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

# "HH:MM:SS  12 of 258 START sql table model main.int_x .......... [RUN]"
_NODE = re.compile(r"^(?:\d\d:\d\d:\d\d\s+)?(?P<k>\d+) of (?P<n>\d+) (?P<what>.*?)\s*\.*\s*"
                   r"\[(?P<status>[^\]]*)\]\s*$")
_STARTED = re.compile(r"^START (?:sql |python )?(?P<kind>\w+(?: \w+)*?) "
                      r"(?:model |file )?(?:[\w\"]+\.)?(?P<name>[\w\"]+)$")
_RESULT_WORDS = ("OK", "PASS", "FAIL", "WARN", "ERROR", "SKIP")  # first word of a result line
_SUMMARY_STARTS = ("Finished running", "Completed", "Done.")
_HEADER_STARTS = ("Found ", "Concurrency:")


def _strip_time(line: str) -> str:
    return re.sub(r"^\d\d:\d\d:\d\d\s+", "", line).strip()


@dataclass
class DbtProgress:
    """Feed it dbt's output lines; it calls ``log`` with the lines worth showing."""

    log: Callable[[str], None]
    verbose: bool = False
    raw: Callable[[str], None] | None = None
    n_tests_done: int = 0     # data tests passed
    n_nodes_done: int = 0
    n_nodes: int = 0          # the build's node count, from dbt's "k of n" lines
    problems: list[str] = field(default_factory=list)
    _in_summary: bool = False

    def __call__(self, line: str) -> None:
        if self.verbose:
            (self.raw or self.log)("  dbt| " + line)
        text = _strip_time(line)
        if self._in_summary:
            if not self.verbose and text:
                self.log("  dbt| " + text)
            return
        if text.startswith(_SUMMARY_STARTS):
            self._in_summary = True
            if not self.verbose:
                if self.n_nodes:
                    self.log(f"build {self.n_nodes_done:>4}/{self.n_nodes} nodes done, "
                             f"{self.n_tests_done} tests passed")
                self.log("  dbt| " + text)
            return
        m = _NODE.match(line.strip())
        if m is None:
            if not self.verbose and text.startswith(_HEADER_STARTS):
                self.log("  dbt| " + text)
            return
        self._node(int(m["k"]), int(m["n"]), m["what"].strip(), m["status"].strip())

    def _node(self, k: int, n: int, what: str, status: str) -> None:
        # "START hook: ...", "OK hook: ...": the on-run-start hook, its own "1 of 1", not a node
        if " hook: " in what:
            return
        self.n_nodes = n
        started = _STARTED.match(what)
        if started:
            if "test" not in started["kind"].split() and not self.verbose:
                self.log(f"build {k:>4}/{n}  {started['name']} ({started['kind']}) ...")
            return
        word = what.split()[0] if what else ""
        if word not in _RESULT_WORDS:
            return
        # OK created / loaded ... (a model or seed), ERROR creating ...; PASS / FAIL / WARN test
        is_test = word in ("PASS", "FAIL", "WARN") or (word == "ERROR" and " creating " not in what)
        self.n_nodes_done += 1
        self.n_tests_done += word == "PASS"
        name = what.split()[-1].split(".")[-1]
        if word in ("FAIL", "WARN", "ERROR"):
            self.problems.append(f"{word} {name}")
        if self.verbose:
            return
        if word in ("FAIL", "WARN", "ERROR"):
            self.log(f"build {k:>4}/{n}  {what} [{status}]")
        elif not is_test:
            secs = re.search(r"in ([\d.]+s)", status)
            self.log(f"build {k:>4}/{n}  {name} done" + (f" in {secs.group(1)}" if secs else "")
                     + f"  ({self.n_nodes_done}/{n} nodes done, {self.n_tests_done} tests passed)")
