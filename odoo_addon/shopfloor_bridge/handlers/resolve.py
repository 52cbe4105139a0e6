"""From the floor's vocabulary to Odoo records, through the connection's maps.

Every lookup says what to map when it fails, because a missing mapping is a
configuration fault a person must see and fix. An order that is
not known yet may still arrive (the MES often creates it after the first
event), so that one waits; anything else is permanent.
"""

import json

from odoo.exceptions import UserError
from odoo.tools import float_is_zero

from ..exceptions import EventPending, EventRejected, OnHold, PermanentError

CLOSED_PRODUCTION_STATES = ("done", "cancel")
# Key of EventContext.lookups: whether any hold is active (forgotten once an event raised or released one).
HOLDS_ACTIVE = "holds active"


class EventContext:
    """One event being applied: its parsed data, time, acting user and the resolvers."""

    def __init__(self, event, producing_sync=None, lookups=None):
        self.event = event
        self.producing_sync = producing_sync
        # Within one batch the maps and order names resolve the same way for every
        # event (no handler edits them): found ids are remembered per batch.
        self.lookups = lookups
        self.connection = event.connection_id
        self.company = event.company_id or self.connection.company_id or event.env.company
        # Apply runs with the system's rights (the caller was checked at ingest);
        # records still carry the sidecar's user and the connection's company.
        self.env = event.sudo().with_company(self.company).env
        self.user = event.create_uid or event.env.user
        self.time = event.time
        self.type = event.type
        self.data = self._parse_data(event.data_json)
        self._production = None
        self._workcenter = None
        self.undo = []  # what the handler changed that its result cannot tell (``undo.py``)

    @staticmethod
    def _parse_data(data_json):
        try:
            data = json.loads(data_json or "{}")
        except ValueError as error:
            raise EventRejected(f"data is not valid JSON: {error}") from error
        if not isinstance(data, dict):
            raise EventRejected("data must be a JSON object")
        return data

    # ------------------------------------------------------------------ data fields

    def text(self, key, required=False):
        value = self.data.get(key)
        if value is None or value == "":
            if required:
                raise EventRejected(f"{self.type}: data.{key} is required")
            return None
        if not isinstance(value, str):
            raise EventRejected(f"{self.type}: data.{key} must be text, got {type(value).__name__}")
        return value

    def number(self, key, required=False, default=0.0):
        value = self.data.get(key)
        if value is None:
            if required:
                raise EventRejected(f"{self.type}: data.{key} is required")
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise EventRejected(f"{self.type}: data.{key} must be a number, got {value!r}")
        if value < 0:
            raise EventRejected(f"{self.type}: data.{key} must not be negative, got {value!r}")
        return float(value)

    def boolean(self, key, required=False):
        value = self.data.get(key)
        if value is None:
            if required:
                raise EventRejected(f"{self.type}: data.{key} is required")
            return None
        if not isinstance(value, bool):
            raise EventRejected(f"{self.type}: data.{key} must be true or false, got {value!r}")
        return value

    # ------------------------------------------------------------------ maps

    def _map(self, model, domain):
        if model not in self.env or not self.connection:
            return self.env[model] if model in self.env else None
        connection = self.connection.id
        return self._remembered(
            (model, connection, tuple(domain)), model, [("connection_id", "=", connection), *domain]
        )

    def cached_search(self, model, domain):
        """``search(domain, limit=1)`` once per batch (the inbox keeps the answer), for what
        the events of a batch only read (a scrap's reason tag by its name)."""
        return self._remembered(("search", model, self.env.company.id, tuple(domain)), model, domain)

    def _remembered(self, key, model, domain):
        """``search(domain, limit=1)``, answered from the batch's lookups under ``key`` once asked."""
        if self.lookups is not None and key in self.lookups:
            return self.env[model].browse(self.lookups[key])
        row = self.env[model].search(domain, limit=1)
        if self.lookups is not None:
            self.lookups[key] = row.ids
        return row

    @property
    def connection_label(self):
        return self.connection.code or "(no connection)"

    # ------------------------------------------------------------------ order

    def production(self, required=True, allow_closed=False):
        """The MO the event's data.order names, or an empty recordset when none is given.

        ``allow_closed``: also a done MO (scrap or inspection after closing); never a cancelled one."""
        if self._production is None:
            reference = self.text("order", required=required)
            self._production = self.env["mrp.production"]
            if reference:
                self._production = self._find_production(reference)
        production = self._production
        closed = ("cancel",) if allow_closed else CLOSED_PRODUCTION_STATES
        if production and production.state in closed:
            raise PermanentError(
                f"Manufacturing order {production.name} is {production.state}: "
                f"{self.type} cannot be applied to a closed order."
            )
        return production

    def _find_production(self, reference):
        if self.connection.order_lookup == "table":
            row = self._map("shopfloor.order.map", [("mes_ref", "=", reference)])
            if row and row.production_id:
                return row.production_id
            raise EventPending(
                f"Unknown order {reference!r}: no row in the order mapping table of connection "
                f"{self.connection_label} (it may be added later; map it under Order mappings)."
            )
        key = ("mrp.production", self.company.id, reference)
        if self.lookups is not None and key in self.lookups:
            return self.env["mrp.production"].browse(self.lookups[key])
        production = self.env["mrp.production"].search(
            [("name", "=", reference), ("company_id", "=", self.company.id)], limit=1
        )
        if production and self.lookups is not None:  # an unknown order may be created later: not remembered
            self.lookups[key] = production.id
        if not production:
            raise EventPending(
                f"Unknown order {reference!r}: no manufacturing order with that name in "
                f"{self.company.name} (it may be created later)."
            )
        return production

    # ------------------------------------------------------------------ workcenter

    def workcenter(self, required=False):
        if self._workcenter is None:
            # An explicit data.workcenter (a QA station holding another line) wins over the source's.
            reference = self.text("workcenter")
            if reference:
                self._workcenter = self._find_workcenter(reference)
            else:
                self._workcenter = self.event.workcenter_id.sudo() or self._workcenter_from_source()
        if required and not self._workcenter:
            raise PermanentError(
                f"No workcenter for source {self.event.source!r}: map this source to a workcenter "
                f"on connection {self.connection_label} (or send data.workcenter)."
            )
        return self._workcenter

    def _workcenter_from_source(self):
        row = self._map("shopfloor.source.map", [("source", "=", self.event.source)])
        return row.workcenter_id if row else self.env["mrp.workcenter"]

    def _find_workcenter(self, reference):
        row = self._map("shopfloor.source.map", [("source", "=", reference)])
        if row and row.workcenter_id:
            return row.workcenter_id
        company_domain = [("company_id", "in", (False, self.company.id))]
        workcenter_model = self.env["mrp.workcenter"]
        workcenter = workcenter_model.search([("code", "=", reference), *company_domain], limit=1)
        workcenter = workcenter or workcenter_model.search([("name", "=", reference), *company_domain], limit=1)
        if not workcenter:
            raise PermanentError(
                f"Unknown workcenter {reference!r}: map it as a source on connection "
                f"{self.connection_label}, or use a workcenter code or name."
            )
        return workcenter

    # ------------------------------------------------------------------ operation

    def workorder(self, production, required=True, include_done=False):
        """The WO of ``production`` the event is about.

        data.operation → operation map, else WO name, else routing operation name.
        No operation: the MO's first unfinished WO on the event's workcenter,
        else its first ready WO (``include_done``: else its last WO done there)."""
        if not production:
            return self.env["mrp.workorder"]
        workorders = production.workorder_ids.sorted(lambda wo: (wo.sequence, wo.id))
        operation = self.text("operation")
        if operation:
            found = self._find_workorder(workorders, operation)
            if not found:
                raise PermanentError(
                    f"Order {production.name} has no operation {operation!r}: map it under Operation "
                    f"mappings of connection {self.connection_label} or use the work order's name."
                )
        else:
            workcenter = self.workcenter()
            unfinished = workorders.filtered(lambda wo: wo.state not in ("done", "cancel"))
            found = unfinished.filtered(lambda wo: wo.workcenter_id == workcenter)[:1] if workcenter else None
            found = found or unfinished.filtered(lambda wo: wo.state in ("ready", "progress"))[:1]
            if not found and include_done and workcenter:
                found = workorders.filtered(lambda wo: wo.state == "done" and wo.workcenter_id == workcenter)[-1:]
            if not found and required:
                where = f" on {workcenter.name}" if workcenter else ""
                raise PermanentError(
                    f"Order {production.name} has no open work order{where}: send data.operation "
                    f"to name the operation."
                )
        found = found or self.env["mrp.workorder"]
        if found and not include_done and found.state in ("done", "cancel"):
            raise PermanentError(f"Work order {found.display_name} is already {found.state}.")
        return found

    def _find_workorder(self, workorders, operation):
        row = self._map("shopfloor.operation.map", [("operation", "=", operation)])
        if row:
            matches = workorders.filtered(lambda wo: wo.operation_id == row.operation_id)
            if row.workcenter_id:
                matches = matches.filtered(lambda wo: wo.workcenter_id == row.workcenter_id) or matches
            if matches:
                return matches[:1]
        by_name = workorders.filtered(lambda wo: wo.name == operation)
        return by_name[:1] or workorders.filtered(lambda wo: wo.operation_id.name == operation)[:1]

    # ------------------------------------------------------------------ products and units

    def product(self, code):
        row = self._map("shopfloor.material.map", [("code", "=", code)])
        if row and row.product_id:
            return row.product_id
        product = self.env["product.product"].search(
            [("default_code", "=", code), ("company_id", "in", (False, self.company.id))], limit=1
        )
        if not product:
            raise PermanentError(
                f"Unknown material {code!r}: add a material mapping on connection {self.connection_label} "
                f"or give the product this internal reference."
            )
        return product

    def uom(self, code, default):
        """The unit named by data.uom (map, else unit name); ``default`` when none is given."""
        if not code:
            return default
        row = self._map("shopfloor.uom.map", [("code", "=", code)])
        if row and row.uom_id:
            return row.uom_id
        uom = self.env["uom.uom"].search([("name", "=ilike", code)], limit=1)
        if not uom:
            raise PermanentError(f"Unknown unit {code!r}: add a unit mapping on connection {self.connection_label}.")
        return uom

    def quantity(self, qty, uom, target_uom, what):
        """``qty`` in ``uom`` expressed in ``target_uom``; units of another category are a mapping fault."""
        if uom == target_uom or float_is_zero(qty, precision_rounding=target_uom.rounding):
            return qty
        if uom.category_id != target_uom.category_id:
            raise PermanentError(
                f"{what}: unit {uom.name} ({uom.category_id.name}) cannot be converted to "
                f"{target_uom.name} ({target_uom.category_id.name}); fix the unit mapping."
            )
        return uom._compute_quantity(qty, target_uom, round=False)

    # ------------------------------------------------------------------ reasons

    def loss(self, code):
        """(loss, open_maintenance) for a reason code: reason map, else a loss of that name."""
        row = self._map("shopfloor.reason.map", [("code", "=", code)])
        if row and row.loss_id:
            return row.loss_id, bool(row.open_maintenance)
        loss = self.env["mrp.workcenter.productivity.loss"].search([("name", "=ilike", code)], limit=1)
        if not loss:
            raise PermanentError(
                f"Unknown reason code {code!r}: add a reason mapping on connection {self.connection_label} "
                f"(reason code → loss reason)."
            )
        return loss, False

    # ------------------------------------------------------------------ holds

    def check_holds(self, workorders, action):
        """An active hold makes the event wait (OnHold → pending) until it is released."""
        if self.lookups is not None:
            # Most batches run with no hold at all: one count instead of a search per event.
            # Only quality events make or release holds: the inbox forgets the answer after one
            # that did (the hold is among its produced records).
            if HOLDS_ACTIVE not in self.lookups:
                self.lookups[HOLDS_ACTIVE] = bool(
                    self.env["shopfloor.hold"].sudo().search_count([("state", "=", "active")], limit=1)
                )
            if not self.lookups[HOLDS_ACTIVE]:
                return
        holds = self.env["shopfloor.hold"]._active_for_workorders(workorders)
        if holds:
            raise OnHold(holds._blocking_message(action))


def run_odoo(what, function, *args, **kwargs):
    """Call an Odoo method; its UserError (a business refusal) becomes a permanent error naming ``what``."""
    try:
        return function(*args, **kwargs)
    except UserError as error:
        raise PermanentError(f"{what}: {error.args[0] if error.args else error}") from error
