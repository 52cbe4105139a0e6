"""The error codes of the sidecar API: the shared table, the code that raises
them, and what arrives over a real JSON-RPC request."""

import ast
import importlib
import json
import os

from odoo.exceptions import AccessError, UserError
from odoo.http import serialize_exception
from odoo.tests import HttpCase, new_test_user, tagged

from .. import rpc_errors
from ..event_validation import MAX_INGEST_BATCH
from .common import ShopfloorCase

MODULE_DIR = os.path.dirname(os.path.dirname(__file__))
RAISERS = {"rpc_error", "ShopfloorRpcError", "ShopfloorRpcAccessError"}


def codes_raised_in_module():
    """Every code passed to rpc_error(...) in the module's code, by file and line.

    A code that is not a literal makes the scan incomplete: it is reported as None."""
    found = []
    for folder, _dirs, files in os.walk(MODULE_DIR):
        if os.path.relpath(folder, MODULE_DIR).split(os.sep)[0] in ("tests", "static"):
            continue
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            with open(path, encoding="utf-8") as handle:
                tree = ast.parse(handle.read(), path)
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call):
                    continue
                called = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
                if called not in RAISERS or path.endswith("rpc_errors.py"):
                    continue
                first = node.args[0] if node.args else None
                code = first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None
                found.append((os.path.relpath(path, MODULE_DIR), node.lineno, code))
    return found


@tagged("post_install", "-at_install")
class TestRpcErrorTable(ShopfloorCase):
    def test_every_code_of_the_table_is_raisable_with_its_code_in_the_context(self):
        table = rpc_errors.table()
        self.assertIn(table["default"], table["codes"])
        for code in table["codes"]:
            error = rpc_errors.rpc_error(code, f"refused: {code}")
            self.assertIsInstance(error, rpc_errors.ShopfloorRpcError)
            self.assertIsInstance(error, UserError)
            self.assertEqual(isinstance(error, AccessError), code == "forbidden", code)
            self.assertEqual(error.context, {"shopfloor_code": code})
            try:
                raise error
            except UserError as raised:
                self.assertEqual(serialize_exception(raised)["context"], {"shopfloor_code": code})
                self.assertEqual(serialize_exception(raised)["message"], f"refused: {code}")
        with self.assertRaisesRegex(ValueError, "'no_such_code' is not an error code"):
            rpc_errors.rpc_error("no_such_code", "x")

    def test_every_code_raised_in_the_module_is_in_the_table(self):
        raised = codes_raised_in_module()
        not_literal = [(path, line) for path, line, code in raised if code is None]
        self.assertFalse(not_literal, "codes must be literals so that this test can read them")
        unknown = [(path, line, code) for path, line, code in raised if code not in rpc_errors.codes()]
        self.assertFalse(unknown, "codes raised but missing from schemas/rpc_errors.json")
        # The sidecar API's refusals, each raised somewhere (the scan found the calls).
        self.assertLessEqual(
            {"bad_request", "batch_too_large", "forbidden", "not_found"}, {code for _p, _l, code in raised}
        )

    def test_exception_classes_named_in_the_table_exist(self):
        for code, entry in rpc_errors.table()["codes"].items():
            for dotted in entry["exceptions"]:
                module_name, _dot, class_name = dotted.rpartition(".")
                found = getattr(importlib.import_module(module_name), class_name, None)
                self.assertTrue(isinstance(found, type) and issubclass(found, Exception), f"{code}: {dotted}")


@tagged("post_install", "-at_install")
class TestRpcRefusals(ShopfloorCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.plain = new_test_user(cls.env, "sf-rpc-plain", groups="base.group_user")

    def assertRefused(self, code, call, message=None):
        with self.assertRaises(rpc_errors.ShopfloorRpcError) as caught:
            call()
        self.assertEqual(caught.exception.context, {"shopfloor_code": code})
        if message:
            self.assertIn(message, str(caught.exception))
        return caught.exception

    def started(self, **envelope):
        return self.make_event("workorder.started", {"order": self.mo1.name, "operation": "Cutting"}, **envelope)

    def test_ingest_over_the_batch_limit_is_batch_too_large(self):
        batch = [self.started(id=f"e{i}") for i in range(MAX_INGEST_BATCH + 1)]
        self.assertRefused(
            "batch_too_large",
            lambda: self.env["shopfloor.event"].ingest(batch),
            "at most 1000 events per call, got 1001",
        )
        self.assertFalse(self.env["shopfloor.event"].search([]))

    def test_ingest_of_a_non_list_is_bad_request(self):
        for wrong in ({"id": "x"}, "events", 5, None):
            self.assertRefused("bad_request", lambda w=wrong: self.env["shopfloor.event"].ingest(w), "takes a list")

    def test_a_caller_without_the_group_is_forbidden(self):
        error = self.assertRefused(
            "forbidden", lambda: self.env["shopfloor.event"].with_user(self.plain).ingest([self.started()])
        )
        self.assertIsInstance(error, AccessError)
        connection = self.env["shopfloor.connection"].with_user(self.plain)
        dispatch = self.env["shopfloor.dispatch"].with_user(self.plain)
        for call in (
            lambda: connection.sidecar_config("test-conn"),
            lambda: connection.heartbeat("test-conn", {}),
            lambda: dispatch.pull("test-conn"),
            lambda: dispatch.ack([]),
        ):
            self.assertRefused("forbidden", call, "may not call the Shop Floor Bridge sidecar API")

    def test_an_unknown_connection_is_not_found(self):
        connection = self.env["shopfloor.connection"]
        for call in (
            lambda: connection.sidecar_config("nope"),
            lambda: connection.heartbeat("nope", {}),
            lambda: self.env["shopfloor.dispatch"].pull("nope"),
        ):
            self.assertRefused("not_found", call, "No active shop-floor connection with code 'nope'")

    def test_arguments_of_the_wrong_shape_are_bad_request(self):
        self.assertRefused("bad_request", lambda: self.env["shopfloor.connection"].sidecar_config(5), "connection code")
        self.assertRefused("bad_request", lambda: self.env["shopfloor.dispatch"].pull("test-conn", "many"), "limit")
        self.assertRefused("bad_request", lambda: self.env["shopfloor.dispatch"].pull("test-conn", float("inf")))
        self.assertRefused("bad_request", lambda: self.env["shopfloor.dispatch"].ack({"id": 1}), "ack expects a list")

    def test_ack_items_with_ids_postgresql_cannot_compare_are_set_aside(self):
        # One bad id must not fail the call: the sidecar would resend the same acks forever.
        results = [{"id": 2**70, "status": "acked"}, {"id": "7", "status": "acked"}, {"id": True, "status": "acked"}]
        self.assertIs(self.env["shopfloor.dispatch"].ack(results), True)


@tagged("post_install", "-at_install")
class TestRpcErrorsOverJsonRpc(HttpCase):
    """The code as the sidecar reads it: a real POST to Odoo's /jsonrpc."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sidecar = new_test_user(
            cls.env, "sf-jsonrpc-sidecar", groups="base.group_user,shopfloor_bridge.shopfloor_bridge_group_integration"
        )
        cls.env["shopfloor.connection"].create(
            {"code": "rpc-conn", "name": "RPC", "integration_user_ids": [(4, cls.sidecar.id)]}
        )

    def execute_kw(self, model, method, args):
        payload = {
            "jsonrpc": "2.0",
            "method": "call",
            "id": 1,
            "params": {
                "service": "object",
                "method": "execute_kw",
                "args": [self.env.cr.dbname, self.sidecar.id, "sf-jsonrpc-sidecar", model, method, args],
            },
        }
        response = self.url_open("/jsonrpc", data=json.dumps(payload), headers={"Content-Type": "application/json"})
        self.assertEqual(response.status_code, 200)
        return response.json()

    def test_the_code_arrives_in_error_data_context(self):
        answer = self.execute_kw("shopfloor.event", "ingest", [[{"id": str(i)} for i in range(MAX_INGEST_BATCH + 1)]])
        self.assertEqual(answer["error"]["data"]["context"], {"shopfloor_code": "batch_too_large"})
        self.assertIn("at most 1000 events per call", answer["error"]["data"]["message"])
        answer = self.execute_kw("shopfloor.event", "ingest", [{"not": "a list"}])
        self.assertEqual(answer["error"]["data"]["context"], {"shopfloor_code": "bad_request"})
        answer = self.execute_kw("shopfloor.connection", "sidecar_config", ["nope"])
        self.assertEqual(answer["error"]["data"]["context"], {"shopfloor_code": "not_found"})
        self.assertIn("No active shop-floor connection", answer["error"]["data"]["message"])
        self.sidecar.groups_id = [(3, self.env.ref("shopfloor_bridge.shopfloor_bridge_group_integration").id)]
        answer = self.execute_kw("shopfloor.event", "ingest", [[]])
        self.assertEqual(answer["error"]["data"]["context"], {"shopfloor_code": "forbidden"})
        self.assertEqual(
            answer["error"]["data"]["name"], "odoo.addons.shopfloor_bridge.rpc_errors.ShopfloorRpcAccessError"
        )
