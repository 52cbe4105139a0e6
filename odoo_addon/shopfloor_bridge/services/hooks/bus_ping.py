"""Tells the browsers of shop floor users that events changed (``shopfloor.dashboard._ping_events_changed``)."""


def events_changed(events, outcomes):
    events.env["shopfloor.dashboard"]._ping_events_changed()
