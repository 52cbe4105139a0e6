"""The cost variance of the orders a batch's applied events touched (``shopfloor.cost.variance``).

Behind ``shopfloor_bridge.cost_realtime`` so the ingest rate can be measured
with and without it; the variance model picks the event types that change a
cost figure and refreshes each order once per batch.
"""


def refresh_costs(events, outcomes):
    variance = events.env["shopfloor.cost.variance"]
    applied = events.browse(outcomes.applied_ids())
    if applied and variance._is_realtime_enabled():
        variance._refresh_after_apply(applied)
