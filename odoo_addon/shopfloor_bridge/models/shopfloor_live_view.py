"""Data behind the live plant view (the Shop Floor landing page).

One tile per work center, grouped by line: the state now, the current order
and operation, the good and scrap counts of this shift against plan, standard
OEE of this shift and the age of the last event. ``get_live_view`` reads every
tile in a fixed number of SQL statements whatever the number of work centers
(one more per distinct working calendar, for its shift): a plant of hundreds
of work centers is one round trip.

Definitions (readme/USAGE.md, Live plant view):

- line: the work center's ``shopfloor_line``; empty: its first work center tag;
  none: the connection whose source mapping feeds it; else none (``False``,
  shown last as "No line").
- shift: the attendance of the work center's working calendar that contains
  now (in the calendar's time zone); outside any attendance, or without a
  calendar, since midnight in the user's time zone.
- state: held (an active hold on the work center, its current work order or
  that order's manufacturing order) before down (an open time log of an
  availability loss or a floor downtime) before setup (an open setup or
  teardown log) before running (an open productive or performance log, or a
  work order in progress) before idle.
- counts: applied floor events of this shift, counted as the OEE report counts
  them (a completion adds only what the reports before it did not).
- plan: elapsed shift minutes less planned stops over the routing's standard
  minutes per unit of the current operation (its cycle time over the work
  center's capacity): the count the routing expects by now.
- OEE: ``standard_ratios`` of the OEE report over this shift up to now; a ratio
  above 100 % comes with a flag that says why.
"""

import json
import time
from datetime import UTC, datetime, timedelta

import pytz

from odoo import _, api, fields, models

from ..field_guard import require_groups
from .shopfloor_oee_report import (
    COUNT_EVENT_TYPES,
    COUNT_FILTER_SQL,
    COUNT_FROM_SQL,
    COUNT_GOOD_IN_SQL,
    COUNT_JOINS_SQL,
    COUNT_SCRAP_IN_SQL,
    IDEAL_JOINS_SQL,
    IDEAL_UNIT_MINUTES_SQL,
    OEE_CLASS_SQL,
    standard_ratios,
)

USER_GROUP = "shopfloor_bridge.shopfloor_bridge_group_user"
WORKCENTERS_CHANGED = "shopfloor_bridge/workcenters_changed"
# Work centers whose events changed are sent at most this often per database
# and server process, all together; the client reads those tiles again.
NOTIFY_INTERVAL_S = 1.0
STATES = ("held", "down", "setup", "running", "idle")

_pending = {}
_last_sent = {}


def _iso(moment):
    return fields.Datetime.to_string(moment) if moment else False


class ShopfloorLiveView(models.AbstractModel):
    _name = "shopfloor.live.view"
    _description = "Shop Floor live plant view data"

    @api.model
    def get_live_view(self, workcenter_ids=None, with_health=None):
        """The landing page: the integration health strip (the dashboard's
        connection tiles) and one tile per work center, grouped by line.

        With ``workcenter_ids``, only those tiles (a bus update; ``[]``: none)
        and, unless ``with_health``, no strip."""
        require_groups(self.env, [USER_GROUP], "open the Shop Floor live view")
        now = fields.Datetime.now()
        domain = [("id", "in", [int(i) for i in workcenter_ids])] if workcenter_ids is not None else []
        workcenters = self.env["mrp.workcenter"].search(domain, order="sequence, name, id")
        tiles = self._tiles(workcenters.ids, now)
        result = {"server_time": _iso(now), "tiles": tiles, "partial": workcenter_ids is not None}
        if with_health or (with_health is None and workcenter_ids is None):
            result["health"] = self.env["shopfloor.dashboard"]._connection_tiles(now)
        return result

    # ------------------------------------------------------------ tiles

    def _tiles(self, workcenter_ids, now):
        if not workcenter_ids:
            return []
        self.env.flush_all()
        base = self._base_rows(workcenter_ids)
        shifts = self._shift_starts(base, now)
        windows = [{"wc": wc_id, "start": _iso(shifts[wc_id][0])} for wc_id in workcenter_ids]
        logs = self._open_logs(workcenter_ids)
        current = self._current_workorders(workcenter_ids)
        holds = self._active_holds()
        counts = self._shift_counts(windows, now)
        minutes = self._shift_minutes(windows, now)
        last = self._last_events(workcenter_ids)
        tiles = []
        for wc_id in workcenter_ids:
            row = base[wc_id]
            shift_start, shift_end, shift_source = shifts[wc_id]
            log = logs.get(wc_id)
            order = current.get(wc_id)
            hold = self._hold_of(holds, wc_id, order)
            count = counts.get(wc_id, {})
            spent = minutes.get(wc_id, {})
            state, since, reason = self._state_of(hold, log, order)
            elapsed = max((now - shift_start).total_seconds() / 60.0, 0.0)
            planned = max(elapsed - (spent.get("planned_stop") or 0.0), 0.0)
            good = count.get("good") or 0.0
            scrap = count.get("scrap") or 0.0
            standard_minutes = order and order["standard_minutes"]
            plan = planned / standard_minutes if standard_minutes else False
            ratios = standard_ratios(planned, spent.get("run") or 0.0, count.get("ideal") or 0.0, good, good + scrap)
            last_event = last.get(wc_id)
            tiles.append(
                {
                    "workcenter_id": wc_id,
                    "name": row["name"],
                    "code": row["code"] or False,
                    "line": row["line"] or False,
                    "state": state,
                    "since": _iso(since),
                    "reason": reason or False,
                    "hold_id": hold["id"] if hold else False,
                    "production_id": order["production_id"] if order else False,
                    "production": order["production"] if order else False,
                    "workorder_id": order["workorder_id"] if order else False,
                    "operation": order["operation"] if order else False,
                    "product": order["product"] if order else False,
                    "uom": order["uom"] if order else False,
                    "shift_start": _iso(shift_start),
                    "shift_end": _iso(shift_end),
                    "shift_source": shift_source,
                    "good": good,
                    "scrap": scrap,
                    "plan": plan,
                    "oee": _or_false(ratios["std_oee"]),
                    "availability": _or_false(ratios["std_availability"]),
                    "performance": _or_false(ratios["std_performance"]),
                    "quality": _or_false(ratios["std_quality"]),
                    "oee_flags": self._flags(ratios, count, spent, planned),
                    "last_event_time": _iso(last_event and last_event["time"]),
                    "last_event_type": (last_event and last_event["type"]) or False,
                    "last_event_age_s": (now - last_event["time"]).total_seconds()
                    if last_event and last_event["time"]
                    else False,
                }
            )
        return tiles

    @staticmethod
    def _state_of(hold, log, order):
        """(state, since, reason) by the precedence in the module docstring."""
        if hold:
            return "held", hold["date_start"], hold["reason"]
        if log and log["kind"] == "down":
            return "down", log["date_start"], log["loss"]
        if log and log["kind"] == "setup":
            return "setup", log["date_start"], log["loss"]
        if log and log["kind"] == "run":
            return "running", log["date_start"], False
        if order and order["state"] == "progress":
            return "running", order["date_start"], False
        return "idle", False, False

    @staticmethod
    def _hold_of(holds, wc_id, order):
        for hold in holds:
            on_workcenter = hold["workcenter_id"] == wc_id and not hold["production_id"]
            on_order = order and (
                hold["workorder_id"] == order["workorder_id"]
                or (hold["production_id"] == order["production_id"] and not hold["workorder_id"])
            )
            if on_workcenter or on_order:
                return hold
        return None

    @staticmethod
    def _flags(ratios, count, spent, planned):
        """Why a ratio of this shift passes 100 % (or cannot be trusted), in words."""
        flags = []
        if (ratios["std_availability"] or 0.0) > 100.0:
            flags.append(
                _(
                    "Run time (%(run)s min) beyond planned production time (%(planned)s min): "
                    "overlapping time logs or logs during planned stops",
                    run=round(spent.get("run") or 0.0, 1),
                    planned=round(planned, 1),
                )
            )
        if (ratios["std_performance"] or 0.0) > 100.0:
            flags.append(
                _(
                    "Counts faster than the ideal cycle time allows: %(units)s units need %(ideal)s min, "
                    "run time is %(run)s min",
                    units=round((count.get("good") or 0.0) + (count.get("scrap") or 0.0), 3),
                    ideal=round(count.get("ideal") or 0.0, 1),
                    run=round(spent.get("run") or 0.0, 1),
                )
            )
        if count.get("without_ideal"):
            flags.append(
                _(
                    "%s units without an ideal cycle time (routing or work center): performance too low",
                    round(count["without_ideal"], 3),
                )
            )
        return flags

    # ------------------------------------------------------------ queries (one each)

    def _base_rows(self, workcenter_ids):
        self.env.cr.execute(
            """
            SELECT wc.id, wc.name, wc.code, wc.resource_calendar_id AS calendar_id,
                   COALESCE(NULLIF(btrim(wc.shopfloor_line), ''), tag.name, conn.name) AS line
              FROM mrp_workcenter wc
              LEFT JOIN LATERAL (
                  SELECT t.name FROM mrp_workcenter_tag t
                    JOIN mrp_workcenter_mrp_workcenter_tag_rel r ON r.mrp_workcenter_tag_id = t.id
                   WHERE r.mrp_workcenter_id = wc.id ORDER BY t.name, t.id LIMIT 1
              ) tag ON TRUE
              LEFT JOIN LATERAL (
                  SELECT c.name FROM shopfloor_source_map m
                    JOIN shopfloor_connection c ON c.id = m.connection_id
                   WHERE m.workcenter_id = wc.id ORDER BY m.id LIMIT 1
              ) conn ON TRUE
             WHERE wc.id = ANY(%s)
            """,
            [workcenter_ids],
        )
        return {row["id"]: row for row in self.env.cr.dictfetchall()}

    def _shift_starts(self, base, now):
        """{workcenter_id: (start, end, "calendar" | "midnight")}, naive UTC; one
        calendar read per distinct calendar, never per work center."""
        calendars = self.env["resource.calendar"].browse({row["calendar_id"] for row in base.values()} - {None})
        aware_now = now.replace(tzinfo=UTC)
        by_calendar = {}
        for calendar in calendars:
            zone = pytz.timezone(calendar.tz or "UTC")
            intervals = calendar._attendance_intervals_batch(
                aware_now - timedelta(days=1), aware_now + timedelta(days=1), tz=zone
            )[False]
            for begin, stop, _attendance in intervals:
                if begin <= aware_now < stop:
                    by_calendar[calendar.id] = (
                        begin.astimezone(UTC).replace(tzinfo=None),
                        stop.astimezone(UTC).replace(tzinfo=None),
                        "calendar",
                    )
                    break
        user_zone = pytz.timezone(self.env.user.tz or "UTC")
        local = aware_now.astimezone(user_zone)
        midnight = user_zone.localize(datetime(local.year, local.month, local.day))
        fallback = (
            midnight.astimezone(UTC).replace(tzinfo=None),
            (midnight + timedelta(days=1)).astimezone(UTC).replace(tzinfo=None),
            "midnight",
        )
        return {wc_id: by_calendar.get(row["calendar_id"], fallback) for wc_id, row in base.items()}

    def _open_logs(self, workcenter_ids):
        """The open time log that decides each work center's state: a stop before a setup before a run."""
        self.env.cr.execute(
            """
            SELECT DISTINCT ON (p.workcenter_id)
                   p.workcenter_id, p.date_start, p.workorder_id, l.name AS loss,
                   CASE WHEN p.shopfloor_kind = 'downtime'
                             OR (l.loss_type = 'availability'
                                 AND COALESCE(p.shopfloor_kind, '') NOT IN ('setup', 'teardown')
                                 AND COALESCE(l.shopfloor_oee_loss, 'breakdown') != 'setup') THEN 'down'
                        WHEN p.shopfloor_kind IN ('setup', 'teardown') OR l.shopfloor_oee_loss = 'setup' THEN 'setup'
                        ELSE 'run' END AS kind
              FROM mrp_workcenter_productivity p
              JOIN mrp_workcenter_productivity_loss l ON l.id = p.loss_id
             WHERE p.workcenter_id = ANY(%s) AND p.date_end IS NULL
             ORDER BY p.workcenter_id,
                      CASE WHEN p.shopfloor_kind = 'downtime' OR l.loss_type = 'availability' THEN 0 ELSE 1 END,
                      p.date_start DESC, p.id DESC
            """,
            [workcenter_ids],
        )
        rows = self.env.cr.dictfetchall()
        for row in rows:
            row["loss"] = _translated(row["loss"], self.env.lang)
        return {row["workcenter_id"]: row for row in rows}

    def _current_workorders(self, workcenter_ids):
        """Per work center the work order on it now: one with an open time log,
        else one in progress (latest started first)."""
        self.env.cr.execute(
            """
            SELECT DISTINCT ON (wo.workcenter_id)
                   wo.workcenter_id, wo.id AS workorder_id, wo.name AS operation, wo.state, wo.date_start,
                   mo.id AS production_id, mo.name AS production, pt.name AS product, u.name AS uom,
                   NULLIF(op.time_cycle_manual, 0) / NULLIF(COALESCE(cap.capacity, wc.default_capacity, 1), 0)
                       AS standard_minutes
              FROM mrp_workorder wo
              JOIN mrp_production mo ON mo.id = wo.production_id
              JOIN mrp_workcenter wc ON wc.id = wo.workcenter_id
              JOIN product_product pp ON pp.id = mo.product_id
              JOIN product_template pt ON pt.id = pp.product_tmpl_id
              LEFT JOIN uom_uom u ON u.id = mo.product_uom_id
              LEFT JOIN mrp_routing_workcenter op ON op.id = wo.operation_id
              LEFT JOIN mrp_workcenter_capacity cap ON cap.workcenter_id = wc.id AND cap.product_id = mo.product_id
             WHERE wo.workcenter_id = ANY(%s)
               AND (wo.state = 'progress' OR EXISTS (
                        SELECT 1 FROM mrp_workcenter_productivity p
                         WHERE p.workorder_id = wo.id AND p.date_end IS NULL))
             ORDER BY wo.workcenter_id,
                      EXISTS (SELECT 1 FROM mrp_workcenter_productivity p
                               WHERE p.workorder_id = wo.id AND p.date_end IS NULL) DESC,
                      wo.date_start DESC NULLS LAST, wo.id DESC
            """,
            [workcenter_ids],
        )
        rows = self.env.cr.dictfetchall()
        lang = self.env.lang
        for row in rows:
            row["product"] = _translated(row["product"], lang)
            row["uom"] = _translated(row["uom"], lang)
        return {row["workcenter_id"]: row for row in rows}

    def _active_holds(self):
        """Active holds the user's companies may see (few: each blocks production)."""
        self.env.cr.execute(
            """
            SELECT id, workcenter_id, workorder_id, production_id, reason, date_start
              FROM shopfloor_hold
             WHERE state = 'active' AND company_id = ANY(%s)
             ORDER BY date_start, id
            """,
            [self.env.companies.ids],
        )
        return self.env.cr.dictfetchall()

    def _shift_counts(self, windows, now):
        """Good, scrap and ideal minutes of this shift's applied count events,
        counted as the OEE report's view counts them (a count whose time began before
        the shift started counts its share, as one across midnight in the report)."""
        self.env.cr.execute(
            f"""
            WITH win AS (
                SELECT w.wc, w.start FROM jsonb_to_recordset(%(windows)s::jsonb) AS w(wc int, start timestamp)
            ), count_event AS (
                SELECT e.id, e.workcenter_id, e.production_id, e.workorder_id, e.time, e.type, w.start,
                       {COUNT_GOOD_IN_SQL} AS good_in,
                       {COUNT_SCRAP_IN_SQL} AS scrap_in
                  FROM win w
                  JOIN shopfloor_event e ON e.workcenter_id = w.wc
                  {COUNT_JOINS_SQL}
                 WHERE {COUNT_FILTER_SQL}
                   AND e.production_id IN (
                       SELECT e2.production_id FROM shopfloor_event e2
                        WHERE e2.workcenter_id = w.wc AND e2.time >= w.start AND e2.time <= %(now)s
                          AND e2.state = 'applied' AND e2.type IN %(types)s)
            ), counted AS (
                SELECT c.*,
                       CASE WHEN c.type = 'workorder.completed'
                            THEN GREATEST(c.good_in - COALESCE(SUM(CASE WHEN c.type != 'workorder.completed'
                                 THEN c.good_in END) OVER earlier, 0), 0)
                            ELSE c.good_in END AS good,
                       CASE WHEN c.type = 'workorder.completed'
                            THEN GREATEST(c.scrap_in - COALESCE(SUM(CASE WHEN c.type != 'workorder.completed'
                                 THEN c.scrap_in END) OVER earlier, 0), 0)
                            ELSE c.scrap_in END AS scrap,
                       -- As the report: where the time the count covers begins.
                       {COUNT_FROM_SQL} AS previous_time
                  FROM count_event c
                WINDOW earlier AS (PARTITION BY c.production_id, c.workcenter_id ORDER BY c.time, c.id
                                   ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
            ), shared AS (
                -- A count whose time began before the shift started: the shift takes its share.
                SELECT c.*,
                       CASE WHEN c.type IN ('production.reported', 'workorder.completed')
                             AND c.previous_time < c.start AND c.time > c.previous_time
                            THEN EXTRACT(EPOCH FROM c.time - c.start) / EXTRACT(EPOCH FROM c.time - c.previous_time)
                            ELSE 1.0 END AS share
                  FROM counted c
            ), ideal AS (
                SELECT c.workcenter_id, c.good * c.share AS good, c.scrap * c.share AS scrap,
                       {IDEAL_UNIT_MINUTES_SQL} AS unit_minutes
                  FROM shared c
                  {IDEAL_JOINS_SQL}
                 WHERE c.time >= c.start AND c.time <= %(now)s
            )
            SELECT workcenter_id, SUM(good) AS good, SUM(scrap) AS scrap,
                   COALESCE(SUM((good + scrap) * unit_minutes), 0) AS ideal,
                   SUM(CASE WHEN unit_minutes IS NULL THEN good + scrap ELSE 0 END) AS without_ideal
              FROM ideal
             GROUP BY workcenter_id
            """,
            {"windows": _json(windows), "types": COUNT_EVENT_TYPES, "now": now},
        )
        return {row["workcenter_id"]: row for row in self.env.cr.dictfetchall()}

    def _shift_minutes(self, windows, now):
        """Planned stops and run time (overlaps counted once) of this shift's time logs, open ones up to now."""
        self.env.cr.execute(
            f"""
            WITH win AS (
                SELECT w.wc, w.start FROM jsonb_to_recordset(%(windows)s::jsonb) AS w(wc int, start timestamp)
            ), clipped AS (
                SELECT p.workcenter_id,
                       tsrange(GREATEST(p.date_start, w.start), LEAST(COALESCE(p.date_end, %(now)s), %(now)s)) AS span,
                       {OEE_CLASS_SQL} AS oee_class
                  FROM win w
                  JOIN mrp_workcenter_productivity p ON p.workcenter_id = w.wc
                  JOIN mrp_workcenter_productivity_loss l ON l.id = p.loss_id
                 WHERE COALESCE(p.date_end, %(now)s) > w.start AND p.date_start < %(now)s
            ), ranges AS (
                SELECT workcenter_id,
                       range_agg(span) FILTER (WHERE oee_class = 'planned_stop') AS stops,
                       range_agg(span) FILTER (WHERE oee_class IN ('run', 'small_stop')) AS runs
                  FROM clipped WHERE NOT isempty(span)
                 GROUP BY workcenter_id
            )
            SELECT workcenter_id,
                   COALESCE((SELECT SUM(EXTRACT(EPOCH FROM upper(r) - lower(r)) / 60.0) FROM unnest(stops) r), 0)
                       AS planned_stop,
                   COALESCE((SELECT SUM(EXTRACT(EPOCH FROM upper(r) - lower(r)) / 60.0) FROM unnest(runs) r), 0)
                       AS run
              FROM ranges
            """,
            {"windows": _json(windows), "now": now},
        )
        return {row["workcenter_id"]: row for row in self.env.cr.dictfetchall()}

    def _last_events(self, workcenter_ids):
        """The newest event of each work center (by source time), through the (workcenter_id, time) index."""
        self.env.cr.execute(
            """
            SELECT wc.id AS workcenter_id, e.time, e.type
              FROM unnest(%s::int[]) AS wc(id)
              CROSS JOIN LATERAL (
                  SELECT time, type FROM shopfloor_event
                   WHERE workcenter_id = wc.id AND time IS NOT NULL AND company_id = ANY(%s)
                   ORDER BY time DESC LIMIT 1
              ) e
            """,
            [workcenter_ids, self.env.companies.ids],
        )
        return {row["workcenter_id"]: row for row in self.env.cr.dictfetchall()}

    # ------------------------------------------------------------ bus

    @api.model
    def _notify_workcenters(self, workcenter_ids):
        """Queues these work centers for the live view and sends the queue to
        the shop floor users at most once a second: 1,000 events a minute on
        one work center are one message a second naming it once. What is
        queued when no later event comes is shown by the client's trailing
        full read (owl_src/src/components/live_view/tile_refresh.ts)."""
        key = self.env.cr.dbname
        queued = _pending.setdefault(key, set())
        queued.update(workcenter_ids)
        now = time.monotonic()
        if not queued or now - _last_sent.get(key, 0.0) < NOTIFY_INTERVAL_S:
            return False
        _last_sent[key] = now
        ids = sorted(queued)
        queued.clear()
        group = self.env.ref(USER_GROUP, raise_if_not_found=False)
        if group:
            group.sudo()._bus_send(WORKCENTERS_CHANGED, {"workcenter_ids": ids})
        return True


def _or_false(value):
    return False if value is None else value


def _json(rows):
    return json.dumps(rows)


def _translated(value, lang):
    """A translatable name column (jsonb) read by SQL, in ``lang`` (else English, else any)."""
    if not isinstance(value, dict):
        return value or False
    return value.get(lang) or value.get("en_US") or next(iter(value.values()), False)
