"""The benchmark's view into the cost engine, kept out of the product module.

``_refresh_after_apply`` (the post-apply hook of ingest) and
``_refresh_for_productions`` are wrapped to time them; two RPCs hand the
figures to ``sidecar/bench/cost.bench.ts``."""

import collections
import time

from odoo import api, models

from odoo.addons.shopfloor_bridge.field_guard import require_groups

MANAGER_GROUP = "shopfloor_bridge.shopfloor_bridge_group_manager"

# Server-side [ms, MOs, SQL queries] of the refreshes run inside ingest since
# the last read. Per worker process, bounded.
_REFRESH_TIMINGS = collections.deque(maxlen=10000)


class ShopfloorCostVariance(models.Model):
    _inherit = "shopfloor.cost.variance"

    @api.model
    def _refresh_after_apply(self, applied_events):
        # The apply's own pending writes are flushed first so that the timing
        # is the refresh's alone (its own flush then finds nothing).
        self.env.flush_all()
        queries_before = self.env.cr.sql_log_count
        started = time.perf_counter()
        refreshed = super()._refresh_after_apply(applied_events)
        if refreshed:
            _REFRESH_TIMINGS.append(
                ((time.perf_counter() - started) * 1000.0, len(refreshed), self.env.cr.sql_log_count - queries_before)
            )
        return refreshed

    @api.model
    def bench_refresh_timings(self, clear=True):
        """The refreshes measured inside ingest since the last call, as
        ``[[ms, number of MOs, SQL queries], …]`` (this worker process only)."""
        require_groups(self.env, [MANAGER_GROUP], "read the cost refresh timings")
        timings = [list(item) for item in _REFRESH_TIMINGS]
        if clear:
            _REFRESH_TIMINGS.clear()
        return timings

    @api.model
    def bench_refresh_timed(self, production_ids):
        """Refresh the given MOs in a call of their own (its cache as a new
        request starts: cold) and return how long the refresh took in
        milliseconds, measured here in the server (no network in it), and
        its SQL query count."""
        productions = self.env["mrp.production"].browse(production_ids).exists()
        self._check_refresh_caller(productions, groups=(MANAGER_GROUP,))
        queries_before = self.env.cr.sql_log_count
        started = time.perf_counter()
        self.sudo()._refresh_for_productions(productions.sudo())
        self.env.flush_all()
        return {
            "ms": (time.perf_counter() - started) * 1000.0,
            "count": len(productions),
            "queries": self.env.cr.sql_log_count - queries_before,
        }
