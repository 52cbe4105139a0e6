"""Shared base for the module's tests: a small plant built once per class.

Plant: two lines (workcenter tags), four workcenters with hourly costs, a
finished product made of a steel sheet (kg) and bolts (units), a BOM with a
two-step routing (Cutting on the line-1 press, Assembly on the line-1 bench),
two confirmed 100-unit MOs with their components in stock, and a connection
``test-conn`` whose maps send ``plant1/line1/press-01`` to the press etc.

Events go through ``ingest`` (the sidecar's RPC entry point), never around it.
"""

import itertools
import logging
import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta
from unittest.mock import patch

from odoo.tests.common import TransactionCase
from odoo.tools import SQL

# A Monday morning inside the default working calendar, so that loss
# durations (computed on working hours) are not zero.
PLANT_EPOCH = datetime(2026, 11, 23, 8, 0, 0)

# The delivery settings a new connection hands the sidecar (its ``batch`` block), whatever its kind.
DEFAULT_BATCH = {
    "size": 500,
    "wait_ms": 1000,
    "send_at": 100,
    "partitions": 2,
    "catchup_backlog": 5000,
    "catchup_size": 1000,
}


@contextmanager
def captured(logger_name):
    """Every record ``logger_name`` (and its children) emits, kept from the console."""
    records = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record.getMessage())
    logger = logging.getLogger(logger_name)
    propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield records
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def refuse(cr, table, event, column=None):
    """A trigger that makes PostgreSQL refuse ``event`` ("UPDATE" or "INSERT"; of ``column``
    only, when given) on ``table`` with 'refused for the test' (rolled back with the test)."""
    assert event in ("UPDATE", "INSERT"), event
    cr.execute(
        SQL(
            """
            CREATE OR REPLACE FUNCTION pg_temp.sfb_refuse() RETURNS trigger LANGUAGE plpgsql AS
                $$ BEGIN RAISE EXCEPTION 'refused for the test'; END $$;
            CREATE TRIGGER sfb_refuse BEFORE %s ON %s FOR EACH ROW EXECUTE FUNCTION pg_temp.sfb_refuse();
            """,
            SQL("UPDATE OF %s", SQL.identifier(column)) if column else SQL(event),
            SQL.identifier(table),
        )
    )


class ShopfloorCase(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = cls.env
        cls.company = env.company
        cls.uom_unit = env.ref("uom.product_uom_unit")
        cls.uom_kg = env.ref("uom.product_uom_kgm")
        cls.uom_gram = env.ref("uom.product_uom_gram")
        cls.loss_productive = env.ref("mrp.block_reason7")
        cls.loss_breakdown = env.ref("mrp.block_reason1")
        cls.loss_setup = env.ref("mrp.block_reason2")
        cls.loss_material = env.ref("mrp.block_reason0")
        cls._event_counter = itertools.count(1)

        cls.line1 = env["mrp.workcenter.tag"].create({"name": "Line 1"})
        cls.line2 = env["mrp.workcenter.tag"].create({"name": "Line 2"})
        workcenter_model = env["mrp.workcenter"]
        cls.wc_press1 = workcenter_model.create(
            {
                "name": "Press 01",
                "code": "L1-PRESS",
                "costs_hour": 60.0,
                "tag_ids": [(6, 0, cls.line1.ids)],
            }
        )
        cls.wc_assembly1 = workcenter_model.create(
            {
                "name": "Assembly 01",
                "code": "L1-ASSY",
                "costs_hour": 40.0,
                "tag_ids": [(6, 0, cls.line1.ids)],
            }
        )
        cls.wc_press2 = workcenter_model.create(
            {
                "name": "Press 02",
                "code": "L2-PRESS",
                "costs_hour": 65.0,
                "tag_ids": [(6, 0, cls.line2.ids)],
            }
        )
        cls.wc_assembly2 = workcenter_model.create(
            {
                "name": "Assembly 02",
                "code": "L2-ASSY",
                "costs_hour": 45.0,
                "tag_ids": [(6, 0, cls.line2.ids)],
            }
        )
        cls.equipment_press1 = env["maintenance.equipment"].create({"name": "Press 01 hydraulics"})
        if "shopfloor_equipment_id" in workcenter_model._fields:
            cls.wc_press1.shopfloor_equipment_id = cls.equipment_press1

        product_model = env["product.product"]
        cls.product_bracket = product_model.create(
            {
                "name": "Bracket",
                "default_code": "FG-BRACKET",
                "is_storable": True,
                "standard_price": 12.0,
            }
        )
        cls.product_steel = product_model.create(
            {
                "name": "Steel Sheet",
                "default_code": "RM-STEEL",
                "is_storable": True,
                "standard_price": 2.5,
                "uom_id": cls.uom_kg.id,
                "uom_po_id": cls.uom_kg.id,
            }
        )
        cls.product_bolt = product_model.create(
            {
                "name": "Bolt M8",
                "default_code": "RM-BOLT",
                "is_storable": True,
                "standard_price": 0.1,
            }
        )
        cls.bom = env["mrp.bom"].create(
            {
                "product_tmpl_id": cls.product_bracket.product_tmpl_id.id,
                "product_qty": 1.0,
                "consumption": "flexible",
                "bom_line_ids": [
                    (0, 0, {"product_id": cls.product_steel.id, "product_qty": 0.5, "product_uom_id": cls.uom_kg.id}),
                    (0, 0, {"product_id": cls.product_bolt.id, "product_qty": 4}),
                ],
                "operation_ids": [
                    (
                        0,
                        0,
                        {
                            "name": "Cutting",
                            "workcenter_id": cls.wc_press1.id,
                            "sequence": 10,
                            "time_mode": "manual",
                            "time_cycle_manual": 1.5,
                        },
                    ),
                    (
                        0,
                        0,
                        {
                            "name": "Assembly",
                            "workcenter_id": cls.wc_assembly1.id,
                            "sequence": 20,
                            "time_mode": "manual",
                            "time_cycle_manual": 2.0,
                        },
                    ),
                ],
            }
        )
        cls.op_cutting, cls.op_assembly = cls.bom.operation_ids.sorted("sequence")
        stock = env.ref("stock.warehouse0").lot_stock_id
        cls.stock_location = stock
        env["stock.quant"]._update_available_quantity(cls.product_steel, stock, 500.0)
        env["stock.quant"]._update_available_quantity(cls.product_bolt, stock, 2000.0)

        cls.mo1 = cls._make_mo(100)
        cls.mo2 = cls._make_mo(100)

        cls.connection = None
        if "shopfloor.connection" in env:
            cls._build_connection()

    @classmethod
    def _make_mo(cls, qty):
        production = cls.env["mrp.production"].create(
            {
                "product_id": cls.product_bracket.id,
                "bom_id": cls.bom.id,
                "product_qty": qty,
            }
        )
        production.action_confirm()
        production.action_assign()
        return production

    @classmethod
    def _build_connection(cls):
        env = cls.env
        cls.connection = env["shopfloor.connection"].create(
            {
                "code": "test-conn",
                "name": "Test plant MQTT",
                "kind": "mqtt",
                "company_id": cls.company.id,
            }
        )
        conn = cls.connection.id
        if "shopfloor.source.map" in env:
            env["shopfloor.source.map"].create(
                [
                    {"connection_id": conn, "source": "plant1/line1/press-01", "workcenter_id": cls.wc_press1.id},
                    {"connection_id": conn, "source": "plant1/line1/assembly-01", "workcenter_id": cls.wc_assembly1.id},
                    {"connection_id": conn, "source": "plant1/line2/press-02", "workcenter_id": cls.wc_press2.id},
                    {"connection_id": conn, "source": "plant1/line2/assembly-02", "workcenter_id": cls.wc_assembly2.id},
                ]
            )
        if "shopfloor.reason.map" in env:
            env["shopfloor.reason.map"].create(
                [
                    {"connection_id": conn, "code": "BRK", "loss_id": cls.loss_breakdown.id, "open_maintenance": True},
                    {"connection_id": conn, "code": "SETUP", "loss_id": cls.loss_setup.id},
                    {"connection_id": conn, "code": "MAT", "loss_id": cls.loss_material.id},
                ]
            )
        if "shopfloor.material.map" in env:
            env["shopfloor.material.map"].create(
                [
                    {"connection_id": conn, "code": "STEEL-2MM", "product_id": cls.product_steel.id},
                    {"connection_id": conn, "code": "M8", "product_id": cls.product_bolt.id},
                ]
            )
        if "shopfloor.uom.map" in env:
            env["shopfloor.uom.map"].create(
                [
                    {"connection_id": conn, "code": "KG", "uom_id": cls.uom_kg.id},
                    {"connection_id": conn, "code": "PCS", "uom_id": cls.uom_unit.id},
                ]
            )

    # -- events ---------------------------------------------------------------

    @classmethod
    def at(cls, minutes=0, seconds=0):
        """A plant time: PLANT_EPOCH plus an offset (naive UTC, as Odoo stores it)."""
        return PLANT_EPOCH + timedelta(minutes=minutes, seconds=seconds)

    @staticmethod
    def iso(moment):
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"

    def make_event(self, type, data, source="plant1/line1/press-01", time=None, id=None, **envelope):
        """A CloudEvent dict as the sidecar sends it. ``time`` is a datetime
        (naive UTC) or an ISO string; by default each event is one minute after
        the previous one so that per-workcenter ordering is deterministic."""
        if time is None:
            time = self.at(minutes=next(self._event_counter))
        event = {
            "specversion": "1.0",
            "id": id or uuid.uuid4().hex,
            "source": source,
            "type": type,
            "time": time if isinstance(time, str) else self.iso(time),
            "connection": "test-conn",
            "data": data,
        }
        event.update(envelope)
        return event

    def ingest(self, *events):
        return self.env["shopfloor.event"].ingest(list(events))

    def ingest_one(self, event):
        """Ingest one event and return (result dict, shopfloor.event record)."""
        [result] = self.ingest(event)
        record = self.env["shopfloor.event"].browse(result.get("event_id") or [])
        return result, record

    def retry_due(self):
        """Run the retry cron as if every waiting event were due now."""
        waiting = self.env["shopfloor.event"].search([("state", "in", ("pending", "failed"))])
        waiting.write({"next_retry_at": datetime(2000, 1, 1)})
        self.env["shopfloor.event"]._cron_retry()

    def time_logs(self, workorder=None, workcenter=None):
        domain = []
        if workorder is not None:
            domain.append(("workorder_id", "=", workorder.id))
        if workcenter is not None:
            domain.append(("workcenter_id", "=", workcenter.id))
        return self.env["mrp.workcenter.productivity"].search(domain, order="date_start, id")

    @staticmethod
    def workorder_of(production, operation_name):
        return production.workorder_ids.filtered(lambda wo: wo.name == operation_name)

    @contextmanager
    def recorded_sql(self):
        """The SQL text of every statement the cursor runs inside the block, in order."""
        cursor = type(self.env.cr)
        execute = cursor.execute
        statements = []

        def recorded(cr, query, params=None, log_exceptions=True):
            statements.append(getattr(query, "code", query))
            return execute(cr, query, params, log_exceptions)

        with patch.object(cursor, "execute", recorded):
            yield statements
