import collections
import time

from odoo import api, models

from ..field_guard import require_groups

# Server-side durations (ms) of the refreshes run inside _apply_events, for the
# benchmark (sidecar/bench/cost.bench.ts). Per worker process, bounded.
_REFRESH_TIMINGS = collections.deque(maxlen=10000)
MANAGER_GROUP = "shopfloor_bridge.shopfloor_bridge_group_manager"


class ShopfloorEvent(models.Model):
    # The cost engine's part of the event model stays with the cost engine.
    _inherit = "shopfloor.event"  # pylint: disable=consider-merging-classes-inherited

    def _apply_events(self):
        """After a batch applies, refresh the cost variance of every MO it
        touched (``shopfloor.cost.variance._refresh_after_apply``).

        Behind ``shopfloor_bridge.cost_realtime`` (default on) so the ingest
        rate can be measured with and without it."""
        outcomes = super()._apply_events()
        variance_model = self.env["shopfloor.cost.variance"]
        if not outcomes or not variance_model._is_realtime_enabled():
            return outcomes
        applied = self.browse([event_id for event_id, (status, _error) in outcomes.items() if status == "applied"])
        # The apply's own pending writes are flushed first so that the
        # timing below is the refresh's alone.
        self.env.flush_all()
        queries_before = self.env.cr.sql_log_count
        started = time.perf_counter()
        refreshed = variance_model._refresh_after_apply(applied)
        if refreshed:
            _REFRESH_TIMINGS.append(
                (
                    (time.perf_counter() - started) * 1000.0,
                    len(refreshed),
                    self.env.cr.sql_log_count - queries_before,
                )
            )
        return outcomes

    @api.model
    def cost_refresh_timings(self, clear=True):
        """The refreshes measured inside ingest since the last call, as
        ``[[ms, number of MOs, SQL queries], …]`` (this worker process only; for benchmarks)."""
        require_groups(self.env, [MANAGER_GROUP], "read the cost refresh timings")
        timings = [list(item) for item in _REFRESH_TIMINGS]
        if clear:
            _REFRESH_TIMINGS.clear()
        return timings
