"""Tells the live plant view which work centers' events changed (``shopfloor.live.view._notify_workcenters``)."""


def workcenters_changed(events, outcomes):
    # A duplicate of a purged event answers with the purged row's id: gone, nothing to show.
    workcenter_ids = events.sudo().exists().workcenter_id.ids
    if workcenter_ids:
        events.env["shopfloor.live.view"]._notify_workcenters(workcenter_ids)
