"""Data behind the OWL screens (dashboard, dead-letter review, dispatch board)
and the live "events changed" ping on the bus.

Every figure is aggregated in SQL (or ``_read_group``) over the connections and
events the user may read: the screens must stay fast with 100,000 dead letters.
"""

import json
import math
import time
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from ..field_guard import require_groups
from .shopfloor_dispatch import check_planner
from .shopfloor_event import DLQ_STATES

EVENTS_CHANGED = "shopfloor_bridge/events_changed"
USER_GROUP = "shopfloor_bridge.shopfloor_bridge_group_user"
# The dispatch board's menu is shown to these (views/shopfloor_dispatch_views.xml).
BOARD_GROUPS = (USER_GROUP, "mrp.group_mrp_manager")
# Pings are at most this often per database and server process; the screens
# reload once more shortly after a ping, so the skipped ones lose nothing.
PING_INTERVAL_S = 1.0
SPARKLINE_MINUTES = 60
RATE_WINDOW_MINUTES = 5
# The dashboard's standard OEE covers this many UTC days, today included.
OEE_DAYS = 7
STANDARD_KEYS = ("std_oee", "std_availability", "std_performance", "std_quality", "flag_count")

_last_ping = {}


def _none_to_false(value):
    return False if value is None else value


class ShopfloorDashboard(models.AbstractModel):
    _name = "shopfloor.dashboard"
    _description = "Shop Floor Bridge screens data"

    # ------------------------------------------------------------ dashboard

    @api.model
    def get_dashboard(self):
        """One tile per connection plus the top cost variances (False without the cost part)."""
        require_groups(self.env, [USER_GROUP], "open the Shop Floor dashboard")
        now = fields.Datetime.now()
        return {
            "server_time": fields.Datetime.to_string(now),
            "tiles": self._connection_tiles(now),
            "cost_variances": self._top_cost_variances(),
            "oee": self._standard_oee(now),
        }

    def _connection_tiles(self, now):
        """The integration health of each connection the user may read (the
        dashboard's tiles; the live view's strip)."""
        connections = self.env["shopfloor.connection"].search([])
        stats = self._connection_stats(connections.ids, now)
        sparks = self._sparklines(connections.ids, now)
        tiles = []
        for conn in connections:
            row = stats.get(conn.id, {})
            tiles.append(
                {
                    "connection_id": conn.id,
                    "code": conn.code,
                    "name": conn.name,
                    "kind": conn.kind,
                    "kind_label": conn._kind_label(),
                    "endpoint": conn._endpoint_label(),
                    "last_seen": fields.Datetime.to_string(conn.last_seen) if conn.last_seen else False,
                    "heartbeat_age_s": (now - conn.last_seen).total_seconds() if conn.last_seen else -1,
                    "sidecar_version": conn.sidecar_version or False,
                    "spool_depth": conn.spool_depth,
                    "spool_parked": conn.spool_parked,
                    "in_per_min": row.get("received", 0) / RATE_WINDOW_MINUTES,
                    "applied_per_min": row.get("applied", 0) / RATE_WINDOW_MINUTES,
                    "rejected": row.get("rejected", 0),
                    "dlq": row.get("dlq", 0),
                    "pending": row.get("pending", 0),
                    "failed": row.get("failed", 0),
                    "p95_lag_ms": _none_to_false(row.get("p95_lag_ms")),
                    "worst_skew_ms": _none_to_false(row.get("worst_skew_ms")),
                    "sparkline": sparks.get(conn.id, [0] * SPARKLINE_MINUTES),
                    "open_alerts": conn.open_alert_count,
                    **self._catchup_of(conn),
                    **self._source_state_of(conn),
                }
            )
        return tiles

    def _standard_oee(self, now, days=OEE_DAYS):
        """Standard OEE of the work centers with run time or counts over the last
        ``days`` UTC days (today included), Odoo's own OEE beside it; False without any."""
        date_to = now.date()
        date_from = date_to - timedelta(days=days - 1)
        report = self.env["shopfloor.oee.report"]
        active = report.search(
            [("date", ">=", date_from), ("date", "<=", date_to), "|", ("run_minutes", ">", 0), ("total_count", ">", 0)]
        ).workcenter_id
        if not active:
            return False
        odoo = {row["workcenter_id"]: row["oee"] for row in report.compute_oee(active.ids, date_from, date_to)}
        rows = []
        for row in report.compute_standard_oee(active.ids, date_from, date_to):
            workcenter = active.browse(row["workcenter_id"])
            rows.append(
                {
                    "workcenter_id": workcenter.id,
                    "name": workcenter.display_name,
                    "date_from": fields.Date.to_string(date_from),
                    "date_to": fields.Date.to_string(date_to),
                    **{name: _none_to_false(row[name]) for name in STANDARD_KEYS},
                    "odoo_oee": odoo.get(workcenter.id, 0.0),
                    "flags": row["flags"],
                }
            )
        return sorted(rows, key=lambda row: row["name"])

    def _catchup_of(self, connection):
        """What the sidecar's last heartbeat said about its backlog (``stats_json``):
        ``catchup`` (delivery runs with its largest batches), ``catchup_backlog``
        (events queued), ``drain_rate`` (events/s over the last minute) and
        ``drain_eta_s`` (seconds to drain at that rate; False when unknown).
        Whatever a sidecar sent, the tile gets these four, never an error."""
        stats = self._last_stats(connection)

        def finite(key):
            value = stats.get(key)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                return None
            return value

        backlog = finite("backlog")
        if backlog is None:
            backlog = finite("spool_depth")
        eta = finite("drain_eta_s")
        rate = finite("drain_rate")
        return {
            "catchup": stats.get("catchup") is True,
            "catchup_backlog": max(0, int(backlog or 0)),
            "drain_rate": max(0.0, float(rate or 0)),
            "drain_eta_s": int(eta) if eta is not None and eta >= 0 else False,
        }

    def _last_stats(self, connection):
        """The sidecar's last heartbeat (``stats_json``) as a dict; {} when absent or not JSON."""
        try:
            stats = json.loads(connection.stats_json or "{}")
        except ValueError:
            return {}
        return stats if isinstance(stats, dict) else {}

    def _source_state_of(self, connection):
        """Whether the sidecar's own source reads its floor (its last heartbeat): ``source_down``
        when it says its source is not connected (a polled PLC that does not answer), with
        ``source_error``, the reason it gave. A sidecar that does not report it: not down.
        ``source_warning``: what of its configuration the source does not read while it reads the
        rest (topic filters the broker refused, OPC UA addresses left out), as the sidecar said it."""
        stats = self._last_stats(connection)
        connected = stats.get("source_connected")
        down = not isinstance(connected, bool) and isinstance(connected, int | float) and connected == 0
        error = stats.get("source_error")
        warning = stats.get("source_warning")
        return {
            "source_down": down,
            "source_error": error[:500] if down and isinstance(error, str) else "",
            "source_warning": warning[:500] if isinstance(warning, str) else "",
        }

    def _connection_stats(self, connection_ids, now):
        if not connection_ids:
            return {}
        self.env["shopfloor.event"].flush_model()
        self.env.cr.execute(
            """
            SELECT connection_id,
                   count(*) FILTER (WHERE ingest_time >= %(rate_from)s) AS received,
                   count(*) FILTER (WHERE applied_time >= %(rate_from)s) AS applied,
                   count(*) FILTER (WHERE state = 'rejected' AND ingest_time >= %(hour_from)s) AS rejected,
                   count(*) FILTER (WHERE state IN %(dlq)s) AS dlq,
                   count(*) FILTER (WHERE state = 'failed') AS failed,
                   count(*) FILTER (WHERE state = 'pending') AS pending,
                   percentile_cont(0.95) WITHIN GROUP (
                       ORDER BY extract(epoch FROM applied_time - time) * 1000
                   ) FILTER (WHERE applied_time >= %(hour_from)s AND time IS NOT NULL) AS p95_lag_ms,
                   (array_agg(skew_ms ORDER BY abs(skew_ms) DESC)
                       FILTER (WHERE ingest_time >= %(hour_from)s AND skew_ms IS NOT NULL))[1] AS worst_skew_ms
              FROM shopfloor_event
             WHERE connection_id = ANY(%(ids)s)
               AND company_id = ANY(%(companies)s)
               AND (state IN %(open)s OR ingest_time >= %(hour_from)s OR applied_time >= %(hour_from)s)
             GROUP BY connection_id
            """,
            {
                "ids": connection_ids,
                "companies": self.env.companies.ids,
                "rate_from": now - timedelta(minutes=RATE_WINDOW_MINUTES),
                "hour_from": now - timedelta(minutes=SPARKLINE_MINUTES),
                "dlq": DLQ_STATES,
                "open": DLQ_STATES + ("pending",),
            },
        )
        return {row["connection_id"]: row for row in self.env.cr.dictfetchall()}

    def _sparklines(self, connection_ids, now):
        """Events received per minute over the last hour, oldest minute first."""
        if not connection_ids:
            return {}
        self.env.cr.execute(
            """
            SELECT connection_id,
                   floor(extract(epoch FROM %(now)s - ingest_time) / 60)::int AS minutes_ago,
                   count(*)
              FROM shopfloor_event
             WHERE connection_id = ANY(%(ids)s)
               AND company_id = ANY(%(companies)s)
               AND ingest_time > %(since)s AND ingest_time <= %(now)s
             GROUP BY 1, 2
            """,
            {
                "ids": connection_ids,
                "companies": self.env.companies.ids,
                "now": now,
                "since": now - timedelta(minutes=SPARKLINE_MINUTES),
            },
        )
        lines = {}
        for connection_id, minutes_ago, count in self.env.cr.fetchall():
            line = lines.setdefault(connection_id, [0] * SPARKLINE_MINUTES)
            if 0 <= minutes_ago < SPARKLINE_MINUTES:
                line[SPARKLINE_MINUTES - 1 - minutes_ago] = count
        return lines

    def _top_cost_variances(self, limit=5):
        """The manufacturing orders furthest over standard; False when cost is not installed."""
        if "shopfloor.cost.variance" not in self.env:
            return False
        Variance = self.env["shopfloor.cost.variance"]
        rows = Variance.search_read(
            [("level", "=", "production"), ("variance_amount", ">", 0)],
            ["production_id", "variance_amount", "variance_pct", "currency_id"],
            order="variance_amount desc",
            limit=limit,
        )
        return [
            {
                "model": "mrp.production",
                "res_id": row["production_id"][0],
                "name": row["production_id"][1],
                "variance": row["variance_amount"],
                "variance_pct": row["variance_pct"],
                "currency": row["currency_id"][1] if row["currency_id"] else "",
            }
            for row in rows
            if row["production_id"]
        ]

    # ------------------------------------------------------------ dead letters

    @api.model
    def dlq_summary(self, domain):
        """Counts per DLQ state, the most frequent error classes and the event
        types within ``domain``: one scan (GROUPING SETS) over the rows the
        user may read (``_search`` applies the record rules)."""
        require_groups(self.env, [USER_GROUP], "review dead letters")
        Event = self.env["shopfloor.event"]
        Event.check_access("read")
        query = Event._search(list(domain or []) + [("state", "in", DLQ_STATES)])
        table = SQL.identifier(query.table)
        self.env.cr.execute(
            SQL(
                "SELECT %(t)s.state, %(t)s.error_class, %(t)s.type,"
                " GROUPING(%(t)s.state, %(t)s.error_class, %(t)s.type), count(*)"
                " FROM %(from_)s WHERE %(where)s"
                " GROUP BY GROUPING SETS ((%(t)s.state), (%(t)s.error_class), (%(t)s.type))",
                t=table,
                from_=query.from_clause,
                where=query.where_clause or SQL("TRUE"),
            )
        )
        counts = dict.fromkeys(DLQ_STATES, 0)
        error_classes, types = [], []
        for state, error_class, event_type, grouping, count in self.env.cr.fetchall():
            if grouping == 0b011:  # grouped by state
                counts[state] = count
            elif grouping == 0b101 and error_class:  # by error class
                error_classes.append({"error_class": error_class, "count": count})
            elif grouping == 0b110 and event_type:  # by type
                types.append(event_type)
        error_classes.sort(key=lambda row: (-row["count"], row["error_class"]))
        return {"counts": counts, "error_classes": error_classes[:30], "types": sorted(types)}

    # ------------------------------------------------------------ dispatch board

    @api.model
    def board_data(self):
        """Queued work orders per work center for the dispatch board, and the
        floor's acknowledgement state per work center (False without dispatch)."""
        require_groups(self.env, BOARD_GROUPS, "open the dispatch board")
        workcenters = self.env["mrp.workcenter"].search_read([], ["display_name"], order="sequence, name")
        workorders = self.env["mrp.workorder"].search_read(
            [
                ("state", "in", ("pending", "waiting", "ready", "progress")),
                ("production_id.state", "in", ("confirmed", "progress", "to_close")),
            ],
            [
                "name",
                "workcenter_id",
                "production_id",
                "product_id",
                "qty_remaining",
                "product_uom_id",
                "state",
                "date_start",
                "sequence",
            ],
            limit=2000,
        )
        productions = {
            mo.id: mo
            for mo in self.env["mrp.production"].browse(
                {wo["production_id"][0] for wo in workorders if wo["production_id"]}
            )
        }
        for wo in workorders:
            production = productions.get(wo["production_id"] and wo["production_id"][0])
            wo["priority"] = (production and production.priority) or "0"
            # The floor queue's order (shopfloor.dispatch._queue_workorders): a work order
            # without a planned start sorts by its MO's, ties by sequence, MO, work order.
            start = wo["date_start"] or (production and production.date_start)
            wo["queue_start"] = fields.Datetime.to_string(start) if start else False
            wo["date_start"] = fields.Datetime.to_string(wo["date_start"]) if wo["date_start"] else False
        return {
            "workcenters": workcenters,
            "workorders": workorders,
            "acks": self._dispatch_acks([wc["id"] for wc in workcenters]),
        }

    def _dispatch_acks(self, workcenter_ids):
        """The newest floor message per work center: {workcenter_id: {state, version, error, date}}."""
        if "shopfloor.dispatch" not in self.env:
            return False
        Dispatch = self.env["shopfloor.dispatch"]
        names = Dispatch._fields
        wanted = [f for f in ("workcenter_id", "state", "version", "error", "write_date") if f in names]
        if "workcenter_id" not in names or "state" not in names:
            return False
        latest = {}
        for row in Dispatch.search_read(
            [("workcenter_id", "in", workcenter_ids), ("state", "!=", "superseded")],
            wanted,
            order="id desc",
            limit=1000,
        ):
            wc = row["workcenter_id"] and row["workcenter_id"][0]
            if wc and str(wc) not in latest:
                latest[str(wc)] = {
                    "state": row["state"],
                    "version": row.get("version") or 0,
                    "error": row.get("error") or "",
                    "date": fields.Datetime.to_string(row["write_date"]) if row.get("write_date") else "",
                }
        return latest

    @api.model
    def move_workorder(self, workorder_id, priority, date_start, shifts=None):
        """Puts a work order at its new place in its work center's queue: the
        MO's priority and the WO's planned start, written with the user's own
        rights (the planning push-back reacts to these writes). `shifts`,
        [[workorder_id, date_start], ...], moves the planned starts of other
        work orders of the same work center that must make room: two orders
        planned in the same second have no start between them."""
        check_planner(self.env)
        workorder = self.env["mrp.workorder"].browse(int(workorder_id)).exists()
        if not workorder:
            raise UserError(_("Work order %s no longer exists.", workorder_id))
        workorder.check_access("write")
        workorder.production_id.check_access("write")
        if priority not in ("0", "1"):
            raise UserError(_("Priority must be '0' or '1', got %r.", priority))
        moves = []
        for shift in shifts or []:
            if not isinstance(shift, list | tuple) or len(shift) != 2 or not shift[1]:
                raise UserError(_("A shift is [work order id, planned start], got %r.", shift))
            other = self.env["mrp.workorder"].browse(int(shift[0])).exists()
            if not other:
                raise UserError(_("Work order %s no longer exists.", shift[0]))
            if other.workcenter_id != workorder.workcenter_id or other == workorder:
                raise UserError(
                    _(
                        "%(other)s is not in the queue of %(workcenter)s: only that queue makes room.",
                        other=other.display_name,
                        workcenter=workorder.workcenter_id.display_name,
                    )
                )
            other.check_access("write")
            moves.append((other, shift[1]))
        production = workorder.production_id
        if production.priority != priority:
            production.write({"priority": priority})
        if date_start:
            moves.insert(0, (workorder, date_start))
        for record, start in moves:
            self._plan_start(record, fields.Datetime.to_datetime(start))
        return {
            "id": workorder.id,
            "priority": production.priority,
            "date_start": fields.Datetime.to_string(workorder.date_start) if workorder.date_start else False,
        }

    @api.model
    def _plan_start(self, workorder, start):
        """A new planned start that keeps the planned duration."""
        values = {"date_start": start}
        if workorder.date_start and workorder.date_finished:
            values["date_finished"] = start + (workorder.date_finished - workorder.date_start)
        workorder.write(values)

    # ------------------------------------------------------------ live ping

    @api.model
    def _ping_events_changed(self):
        """Tells every shop floor user's browser that events changed, at most
        once a second. Sent in the transaction: the bus delivers it after commit."""
        key = self.env.cr.dbname
        now = time.monotonic()
        if now - _last_ping.get(key, 0.0) < PING_INTERVAL_S:
            return False
        _last_ping[key] = now
        group = self.env.ref(USER_GROUP, raise_if_not_found=False)
        if group:
            group.sudo()._bus_send(EVENTS_CHANGED, {"at": fields.Datetime.to_string(fields.Datetime.now())})
        return True
