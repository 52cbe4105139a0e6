"""Tells the live plant view which work centers' events changed (``shopfloor.live.view._notify_workcenters``)."""


def workcenters_changed(events, outcomes):
    workcenter_ids = events.sudo().workcenter_id.ids
    if workcenter_ids:
        events.env["shopfloor.live.view"]._notify_workcenters(workcenter_ids)
