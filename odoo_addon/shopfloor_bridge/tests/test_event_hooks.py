"""What ingest, apply and discard do besides is the ordered list of hooks in
``services/hooks``, which another addon extends; a failing hook never fails an event."""

from unittest.mock import patch

from odoo.tests import tagged

from ..services import hooks
from ..services.hooks import bus_ping, cost_refresh, live_view
from .common import ShopfloorCase


@tagged("post_install", "-at_install")
class TestEventHooks(ShopfloorCase):
    def started(self):
        return self.make_event("workorder.started", {"order": self.mo1.name, "operation": "Cutting"})

    def test_the_lists_in_order(self):
        events = self.env["shopfloor.event"]
        self.assertEqual(events._post_ingest_hooks(), [bus_ping.events_changed, live_view.workcenters_changed])
        self.assertEqual(
            events._post_apply_hooks(),
            [cost_refresh.refresh_costs, bus_ping.events_changed, live_view.workcenters_changed],
        )
        self.assertEqual(events._post_discard_hooks(), [bus_ping.events_changed])

    def test_an_added_hook_sees_the_applied_batch_and_a_failing_one_fails_no_event(self):
        seen = []

        def failing(events, outcomes):
            # Its own writes go with it: the savepoint rolls them back.
            self.mo1.sudo().write({"origin": "written by a failing hook"})
            raise RuntimeError("hook broke")

        def recording(events, outcomes):
            seen.append((events.ids, dict(outcomes)))

        model_class = type(self.env["shopfloor.event"])
        extended = model_class._post_apply_hooks
        with (
            patch.object(model_class, "_post_apply_hooks", lambda self: [failing, *extended(self), recording]),
            self.assertLogs(hooks.__name__, "ERROR") as logged,
        ):
            [result] = self.ingest(self.started())
        self.assertEqual(result["status"], "applied", result["error"])
        event = self.env["shopfloor.event"].browse(result["event_id"])
        self.assertEqual(event.state, "applied")
        self.assertNotEqual(self.mo1.origin, "written by a failing hook")
        self.assertEqual(seen, [([event.id], {event.id: ("applied", "")})])
        self.assertIn("failing", logged.output[0])
        self.assertIn("hook broke", "\n".join(logged.output))
