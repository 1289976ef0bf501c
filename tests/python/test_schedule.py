"""lifthouse.run.schedule: dbt's build queue takes up the ready node that starts the longest
remaining chain first. Checked on dbt's own GraphQueue with a small graph shaped like the
project's head: seeds and a small staging table whose names sort first, the 1m perp bars with
their tests, then the grid and the open-interest model that both feed the joined features."""

from __future__ import annotations

import subprocess
import sys
import threading
from types import SimpleNamespace

import networkx as nx
import pytest

from dbt.graph.queue import GraphQueue

from lifthouse.run import schedule


def _node(kind: str, materialized: str = "table") -> SimpleNamespace:
    return SimpleNamespace(resource_type=kind, config=SimpleNamespace(materialized=materialized))


NODES = {
    "seed.p.a_horizons": _node("seed"),
    "test.p.a_horizons_unique": _node("test"),
    "test.p.a_horizons_not_null": _node("test"),
    "model.p.a_plan": _node("model"),
    "model.p.stg_funding": _node("model", "view"),
    "test.p.a_funding_not_null": _node("test"),
    "model.p.stg_perp": _node("model"),
    "test.p.stg_perp_unique": _node("test"),
    "model.p.int_features_oi": _node("model"),
    "model.p.int_perp_grid": _node("model"),
    "test.p.int_perp_grid_unique": _node("test"),
    "model.p.int_bars": _node("model"),
    "model.p.int_joined": _node("model"),
    "model.p.trades": _node("model"),
}
EDGES = [
    ("seed.p.a_horizons", "test.p.a_horizons_unique"),
    ("seed.p.a_horizons", "test.p.a_horizons_not_null"),
    ("test.p.a_horizons_unique", "model.p.a_plan"),
    ("test.p.a_horizons_not_null", "model.p.a_plan"),
    ("model.p.stg_funding", "test.p.a_funding_not_null"),
    ("test.p.a_funding_not_null", "model.p.int_features_oi"),
    ("model.p.stg_perp", "test.p.stg_perp_unique"),
    ("test.p.stg_perp_unique", "model.p.int_perp_grid"),
    ("model.p.int_perp_grid", "test.p.int_perp_grid_unique"),
    ("test.p.int_perp_grid_unique", "model.p.int_bars"),
    ("model.p.int_bars", "model.p.int_joined"),
    ("model.p.int_features_oi", "model.p.int_joined"),
    ("model.p.int_joined", "model.p.trades"),
    ("model.p.a_plan", "model.p.trades"),
]


def _graph() -> nx.DiGraph:
    g = nx.DiGraph()
    g.add_nodes_from(NODES)
    g.add_edges_from(EDGES)
    return g


def _pop_order(graph: nx.DiGraph) -> list[str]:
    """The order one thread takes the nodes in (get, then mark done)."""
    manifest = SimpleNamespace(expect=NODES.__getitem__)
    queue = GraphQueue(graph, manifest, set(NODES))
    order = []
    while not queue.empty():
        node = queue.get(block=False)
        order.append(node_id := next(k for k, v in NODES.items() if v is node))
        queue.mark_done(node_id)
    return order


def _keep_dbt(monkeypatch):
    """Restore what install() replaces when the test ends."""
    from dbt.task.runnable import GraphRunnableTask

    monkeypatch.setattr(GraphQueue, "_get_scores", GraphQueue._get_scores)
    monkeypatch.setattr(GraphQueue, "get", GraphQueue.get)
    monkeypatch.setattr(GraphRunnableTask, "run_queue", GraphRunnableTask.run_queue)


@pytest.fixture
def installed(monkeypatch):
    _keep_dbt(monkeypatch)
    assert schedule.install()
    assert schedule.install()   # twice is once
    assert GraphQueue.get.lifthouse_original.__module__ == "dbt.graph.queue"


def test_dbt_default_order_is_depth_then_name():
    """What install() changes: dbt's own queue runs the seed's tests, named first, before the
    perp bars' test, and the open-interest model before the grid. (If dbt changes its order,
    this says so and the scores below need a new look.)"""
    order = _pop_order(_graph())
    assert order.index("test.p.a_horizons_unique") < order.index("test.p.stg_perp_unique")
    assert order.index("model.p.int_features_oi") < order.index("model.p.int_perp_grid")


def test_longest_remaining_chain_first(installed):
    order = _pop_order(_graph())
    # the perp bars and their test start the longest chain: before the seed, its tests and
    # the small staging table
    assert order[:2] == ["model.p.stg_perp", "test.p.stg_perp_unique"]
    assert order.index("model.p.int_perp_grid") < order.index("model.p.int_features_oi")
    assert order.index("model.p.int_perp_grid") < order.index("seed.p.a_horizons")
    # still a topological order: nothing runs before its parents
    for parent, child in EDGES:
        assert order.index(parent) < order.index(child)


def test_a_node_leaves_the_queue_only_when_a_thread_is_free(installed):
    """With one thread, the next node is taken only after the running one is done, so it is
    the best node ready at that moment (dbt alone would take every ready node at once and run
    them first come, first served)."""
    manifest = SimpleNamespace(expect=NODES.__getitem__)
    queue = GraphQueue(_graph(), manifest, set(NODES))
    queue.lifthouse_max_in_progress = 1
    first = queue.get()
    taken: list = []
    waiter = threading.Thread(target=lambda: taken.append(queue.get()), daemon=True)
    waiter.start()
    waiter.join(1.0)
    assert not taken, "a second node left the queue while the only thread was busy"
    first_id = next(k for k, v in NODES.items() if v is first)
    assert first_id == "model.p.stg_perp"
    queue.mark_done(first_id)
    waiter.join(5.0)
    # the perp bars' test became ready when the table was done, and it is taken before the
    # seed that was ready all along
    assert taken and taken[0] is NODES["test.p.stg_perp_unique"]


def test_scores_are_chain_lengths_then_blocked_counts():
    g = _graph()
    weights = {n: schedule.node_weight(v) for n, v in NODES.items()}
    scores = schedule.critical_path_scores(g, weights.__getitem__)
    # stg_perp 1 + test 0.1 + grid 1 + test 0.1 + bars 1 + joined 1 + trades 1
    assert scores["model.p.stg_perp"] == (-5.2, -6)
    assert scores["model.p.int_features_oi"] == (-3.0, -2)
    assert scores["model.p.stg_funding"] == (-(0.2 + 0.1 + 3.0), -4)
    assert scores["model.p.trades"] == (-1.0, 0)


def test_node_weights_by_kind():
    assert schedule.node_weight(_node("model", "view")) == schedule.NODE_WEIGHTS["view"]
    assert schedule.node_weight(_node("model", "table")) == 1.0
    assert schedule.node_weight(_node("model", "something_new")) == 1.0
    assert schedule.node_weight(_node("test")) == schedule.NODE_WEIGHTS["test"]
    assert schedule.node_weight(_node("operation")) == 0.0


def test_dbt_main_installs_it():
    """lifthouse.run.dbt_main puts the scores in before dbt starts (in a child process: its
    exit runs the exit handlers, one of which reports the queue's scoring function)."""
    probe = ("import atexit, lifthouse.run.dbt_main as m\n"
             "from dbt.graph.queue import GraphQueue as Q\n"
             "atexit.register(lambda: print('scores from', Q._get_scores.__module__))\n"
             "m.main(['--version'])\n")
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert "scores from lifthouse.run.schedule" in run.stdout
