import logging

from odoo import models

_logger = logging.getLogger(__name__)


class ShopfloorEvent(models.Model):
    _inherit = "shopfloor.event"

    def _apply_events(self):
        """After a batch applies, refresh the cost variance of every MO it
        touched, once per MO (the last event of the batch wins anyway).

        Behind ``shopfloor_bridge.cost_realtime`` (default on) so the ingest
        rate can be measured with and without it. A refresh failure never
        fails an event: the event is applied, the figures are refreshed by the
        next event or the Refresh button, and the error is logged."""
        outcomes = super()._apply_events()
        variance_model = self.env["shopfloor.cost.variance"]
        if not outcomes or not variance_model._is_realtime_enabled():
            return outcomes
        applied = self.browse([event_id for event_id, (status, _error) in outcomes.items() if status == "applied"])
        productions = applied.production_id | applied.workorder_id.production_id
        if productions:
            try:
                with self.env.cr.savepoint():
                    variance_model._refresh_for_productions(productions)
            except Exception:
                _logger.exception("Cost variance refresh failed for %s", productions.mapped("name"))
        return outcomes
