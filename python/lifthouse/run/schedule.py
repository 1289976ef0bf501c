"""The order in which a dbt build started by lifthouse takes up ready nodes: the longest
remaining chain first.

dbt's build queue hands a free thread the ready node of the lowest graph *depth*, ties by
unique id. With two threads that is a poor order here: the seeds' ~20 tests and the small
staging tables' tests (depth 1, names sorting first) run before the tests of the 1m perp
bars, which every expensive model waits for; and ``int_features_open_interest_computed`` runs
before ``int_perp_bars_gridded`` because its name sorts first. At 20 symbols x 365 days the
grid started 25 s after its input was ready (docs/benchmarks.md).

``critical_path_scores`` ranks a ready node by the length of the longest chain of nodes it
still blocks (its own weight included), longest first, then by how many nodes it blocks, then
by unique id. A node's weight is a static guess of its cost by kind (``NODE_WEIGHTS``), so the
order does not depend on an earlier run. The order only decides which ready node runs next:
every node still waits for all of its parents (its models and their data tests), so what is
built, and every output, is the same as under dbt's own order.

``install()`` puts the scores into dbt's ``GraphQueue`` and makes dbt take a node off the
queue only when a thread is free to run it (see there); ``lifthouse.run.dbt_main`` calls it
before it starts dbt, so it holds for ``lifthouse run`` and the tests, not for a plain
``dbt build`` (which keeps dbt's order and builds the same tables).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

# a static guess of a node's cost, relative to a table model. A view is created, not
# computed; a data test and a seed are small next to a table at any size worth ordering
NODE_WEIGHTS: Mapping[str, float] = {
    "table": 1.0,
    "incremental": 1.0,
    "view": 0.2,
    "ephemeral": 0.0,
    "test": 0.1,
    "seed": 0.1,
    "other": 0.0,
}


def node_weight(node: Any) -> float:
    """NODE_WEIGHTS of a manifest node (model by materialisation, data test, seed; hooks and
    anything else 0)."""
    kind = str(getattr(node, "resource_type", ""))
    kind = kind.split(".")[-1].lower()          # NodeType.Model -> 'model' on any version
    if kind == "model":
        materialized = str(getattr(getattr(node, "config", None), "materialized", "table"))
        return NODE_WEIGHTS.get(materialized, NODE_WEIGHTS["table"])
    return NODE_WEIGHTS.get(kind, NODE_WEIGHTS["other"])


def critical_path_scores(graph: Any, weight: Callable[[str], float]) -> dict[str, tuple]:
    """{node: (-longest chain it starts, -number of nodes it blocks)} for a networkx DiGraph
    (edges parent -> child). A chain's length is the sum of its nodes' ``weight``. Lower sorts
    first, as in dbt's queue; ties fall to the unique id the queue stores beside the score."""
    import networkx as nx

    order = list(nx.topological_sort(graph))
    chain: dict[str, float] = {}
    blocked: dict[str, set] = {}
    for node in reversed(order):
        children = list(graph.successors(node))
        chain[node] = weight(node) + max((chain[c] for c in children), default=0.0)
        below: set = set(children)
        for c in children:
            below |= blocked[c]
        blocked[node] = below
    # rounded so that sums of the same weights in another order compare equal
    return {n: (-round(chain[n], 9), -len(blocked[n])) for n in order}


def _scores(queue: Any, graph: Any) -> dict[str, tuple]:
    return critical_path_scores(graph, lambda n: node_weight(queue.manifest.expect(n)))


def _limited_get(original: Callable) -> Callable:
    def get(queue: Any, block: bool = True, timeout: float | None = None):
        limit = getattr(queue, "lifthouse_max_in_progress", None)
        if limit:
            with queue.some_task_done:           # the queue's lock; mark_done notifies it
                while len(queue.in_progress) >= limit:
                    queue.some_task_done.wait(0.5)
        return original(queue, block, timeout)
    get.lifthouse_original = original            # type: ignore[attr-defined]
    return get


def _threads_limited_run_queue(original: Callable) -> Callable:
    def run_queue(task: Any, pool: Any) -> None:
        if task.job_queue is not None:
            task.job_queue.lifthouse_max_in_progress = max(1, int(task.config.threads or 1))
        return original(task, pool)
    run_queue.lifthouse_original = original      # type: ignore[attr-defined]
    return run_queue


def install() -> bool:
    """Make dbt's build queue (in this process) hand out nodes by ``critical_path_scores``.

    Two changes: the scores, and when a node is taken off the queue. dbt's main loop takes
    every ready node off the queue at once and hands it to the thread pool, whose own queue is
    first-come first-served; so a score decides only among nodes that became ready at the
    same moment (the perp bars' tests, ready when the table is built, waited behind the seeds
    queued at the start). Here the loop takes a node only when one of the ``threads`` workers
    is free, so each free worker gets the best ready node of that moment. False, leaving dbt
    as it is, when dbt's queue or task no longer has what this replaces."""
    try:
        from dbt.graph.queue import GraphQueue
        from dbt.task.runnable import GraphRunnableTask
    except ImportError:
        return False
    needed = [(GraphQueue, "_get_scores"), (GraphQueue, "get"), (GraphRunnableTask, "run_queue")]
    if not all(callable(getattr(cls, name, None)) for cls, name in needed):
        return False
    if GraphQueue._get_scores is _scores:
        return True                              # installed already
    GraphQueue._get_scores = _scores
    GraphQueue.get = _limited_get(GraphQueue.get)
    GraphRunnableTask.run_queue = _threads_limited_run_queue(GraphRunnableTask.run_queue)
    return True
