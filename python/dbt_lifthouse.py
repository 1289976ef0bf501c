"""dbt plugin of the lifthouse project (dbt-core loads installed ``dbt_*`` modules that define
``plugins``). It only registers the Spark session submission of Python models
(lifthouse.run.spark.install) when the project runs on the dbt-spark adapter; on DuckDB it does
nothing."""

from __future__ import annotations

import sys

from dbt.plugins.manager import dbt_hook, dbtPlugin
from dbt.plugins.manifest import PluginNodes


class LifthouseSparkSession(dbtPlugin):
    @dbt_hook
    def get_nodes(self) -> PluginNodes:
        # called while the manifest loads, after the target's adapter is registered
        if self.project_name == "lifthouse" and "dbt.adapters.spark.impl" in sys.modules:
            from lifthouse.run.spark import install

            install()
        return PluginNodes()


plugins = [LifthouseSparkSession]
