"""Who may do what: every model and public method of the module, for every role, in two companies.

The test enumerates the models whose class (``_name`` or ``_inherit``) comes
from this module's files and, for each, the four CRUD operations (concrete
models) and every method our code defines that RPC can reach (Odoo's
``get_public_method`` rule: no leading underscore, not ``@api.private``),
overrides of Odoo's own methods included. Each one is called as each role on
a record (or with arguments) of company A and of company B; every role is a
user of company A only. The outcome is compared with ``MATRIX`` below, and the
test fails when a model or method is not in the table, so nothing public is
added without deciding who may call it. Rows with a ``:field`` suffix write a
field only audited paths may change.

A cell is two symbols: the outcome on company A's record, then on company B's.
  ``+`` allowed    ``-`` refused with an AccessError (rpc code ``forbidden`` or Odoo's own)
  ``0`` allowed, and nothing of the other company (or connection) in the answer or touched
  ``r`` ingest only: the event is stored ``rejected`` (error class ``forbidden``), never applied
  ``n`` refused with the rpc code ``not_found``: no such connection among the caller's companies
A refusal must name what is missing: the company (refused on B only), the
connection (another connection's integration user, where the connection's own
is allowed), the field (``:field`` rows), else the group.

Columns: portal, internal user, MRP user, MRP admin, bridge user, bridge
manager, the connection's integration user, another connection's integration user.
"""

import json
import logging
import re
import time
import uuid
from datetime import timedelta

from odoo.exceptions import AccessError, UserError
from odoo.service.model import get_public_method
from odoo.tests import new_test_user, tagged

from ..rpc_errors import ShopfloorRpcError
from .common import PLANT_EPOCH, ShopfloorCase

_logger = logging.getLogger(__name__)

MODULE_PREFIX = "odoo.addons.shopfloor_bridge"
ROLES = ("portal", "internal", "mrp_user", "mrp_admin", "bridge_user", "bridge_mgr", "integ", "other_integ")
CRUD = ("read", "write", "create", "unlink")
# Every record of company B carries this in its name, code or source: a
# "query" answer mentioning it leaked company B's data.
B_MARK = "ZZB"

MATRIX = """
model.method                                    portal internal mrp_user mrp_admin bridge_user bridge_mgr integ other_integ
mrp.production.read                             --     --       +-       +-        --          --         --    --
mrp.production.write                            --     --       +-       +-        --          --         --    --
mrp.production.write:shopfloor_cost_flagged     --     --       --       --        --          --         --    --
mrp.production.write:shopfloor_closed_by_id     --     --       --       --        --          --         --    --
mrp.production.create                           --     --       +-       +-        --          --         --    --
mrp.production.unlink                           --     --       +-       +-        --          --         --    --
mrp.production.action_cancel                    --     --       +-       +-        --          --         --    --
mrp.production.action_confirm                   --     --       +-       +-        --          --         --    --
mrp.production.action_shopfloor_cost_refresh    --     --       --       --        +-          +-         --    --
mrp.production.action_view_shopfloor_count_corrections --  --       +-       +-        --          --         --    --
mrp.production.action_view_shopfloor_holds      --     --       +-       +-        --          --         --    --
mrp.production.button_mark_done                 --     --       +-       +-        --          --         --    --
mrp.production.button_unplan                    --     --       +-       +-        --          --         --    --
mrp.workorder.read                              --     --       +-       +-        --          --         --    --
mrp.workorder.write                             --     --       +-       +-        --          --         --    --
mrp.workorder.write:shopfloor_qty_scrap         --     --       --       --        --          --         --    --
mrp.workorder.write:shopfloor_floor_driven      --     --       --       --        --          --         --    --
mrp.workorder.create                            --     --       +-       +-        --          --         --    --
mrp.workorder.unlink                            --     --       +-       +-        --          --         --    --
mrp.workorder.action_cancel                     --     --       +-       +-        --          --         --    --
mrp.workorder.button_done                       --     --       +-       +-        --          --         --    --
mrp.workorder.button_finish                     --     --       +-       +-        --          --         --    --
mrp.workorder.button_start                      --     --       +-       +-        --          --         --    --
mrp.workcenter.read                             --     --       +-       +-        --          --         --    --
mrp.workcenter.write                            --     --       --       +-        --          --         --    --
mrp.workcenter.write:shopfloor_dispatch_version --     --       --       --        --          --         --    --
mrp.workcenter.create                           --     --       --       +-        --          --         --    --
mrp.workcenter.unlink                           --     --       --       +-        --          --         --    --
mrp.workcenter.action_shopfloor_dispatch_log    --     --       +-       +-        --          --         --    --
mrp.workcenter.action_shopfloor_push_queue      --     --       --       +-        --          --         --    --
mrp.workcenter.productivity.read                --     --       +-       +-        --          --         --    --
mrp.workcenter.productivity.write               --     --       +-       +-        --          --         --    --
mrp.workcenter.productivity.create              --     --       +-       +-        --          --         --    --
mrp.workcenter.productivity.unlink              --     --       +-       +-        --          --         --    --
mrp.workcenter.productivity.loss.read           --     --       ++       ++        --          --         --    --
mrp.workcenter.productivity.loss.write          --     --       --       ++        --          --         --    --
mrp.workcenter.productivity.loss.create         --     --       --       ++        --          --         --    --
mrp.workcenter.productivity.loss.unlink         --     --       --       ++        --          --         --    --
product.category.read                           --     ++       ++       ++        ++          ++         ++    ++
product.category.write                          --     --       --       ++        --          --         --    --
product.category.create                         --     --       --       ++        --          --         --    --
product.category.unlink                         --     --       --       ++        --          --         --    --
res.company.read                                +-     +-       +-       +-        +-          +-         +-    +-
res.company.write                               --     --       --       --        --          --         --    --
res.company.create                              --     --       --       --        --          --         --    --
res.company.unlink                              --     --       --       --        --          --         --    --
shopfloor.alert.read                            --     --       --       --        +-          +-         --    --
shopfloor.alert.write                           --     --       --       --        --          +-         --    --
shopfloor.alert.create                          --     --       --       --        --          --         --    --
shopfloor.alert.unlink                          --     --       --       --        --          --         --    --
shopfloor.alert.delivery.read                   --     --       --       --        +-          +-         --    --
shopfloor.alert.delivery.write                  --     --       --       --        --          --         --    --
shopfloor.alert.delivery.create                 --     --       --       --        --          --         --    --
shopfloor.alert.delivery.unlink                 --     --       --       --        --          --         --    --
shopfloor.alert.delivery.action_send_now        --     --       --       --        --          +-         --    --
shopfloor.alert.rule.read                       --     --       --       --        +-          +-         --    --
shopfloor.alert.rule.write                      --     --       --       --        --          +-         --    --
shopfloor.alert.rule.create                     --     --       --       --        --          +-         --    --
shopfloor.alert.rule.unlink                     --     --       --       --        --          +-         --    --
shopfloor.alert.rule.action_check_now           --     --       --       --        --          +-         --    --
shopfloor.connection.read                       --     --       --       --        +-          +-         --    --
shopfloor.connection.write                      --     --       --       --        --          +-         --    --
shopfloor.connection.write:company_id           --     --       --       --        --          --         --    --
shopfloor.connection.create                     --     --       --       --        --          +-         --    --
shopfloor.connection.unlink                     --     --       --       --        --          +-         --    --
shopfloor.connection.action_check_alerts        --     --       --       --        --          +-         --    --
shopfloor.connection.action_clear_secrets       --     --       --       --        --          +-         --    --
shopfloor.connection.action_open_alerts         --     --       --       --        +-          +-         --    --
shopfloor.connection.action_open_dlq            --     --       --       --        +-          +-         --    --
shopfloor.connection.action_open_events         --     --       --       --        +-          +-         --    --
shopfloor.connection.action_open_mapping_test   --     --       --       --        --          +-         --    --
shopfloor.connection.heartbeat                  --     --       --       --        --          --         +n    -n
shopfloor.connection.sidecar_config             --     --       --       --        --          --         +n    -n
shopfloor.cost.variance.read                    --     --       --       --        +-          +-         --    --
shopfloor.cost.variance.write                   --     --       --       --        --          --         --    --
shopfloor.cost.variance.create                  --     --       --       --        --          --         --    --
shopfloor.cost.variance.unlink                  --     --       --       --        --          --         --    --
shopfloor.cost.variance.action_open_moves       --     --       --       --        +-          +-         --    --
shopfloor.cost.variance.action_open_scraps      --     --       --       --        +-          +-         --    --
shopfloor.cost.variance.action_open_time_logs   --     --       --       --        --          --         --    --
shopfloor.cost.variance.action_refresh          --     --       --       --        +-          +-         --    --
shopfloor.cost.variance.line.read               --     --       --       --        +-          +-         --    --
shopfloor.cost.variance.line.write              --     --       --       --        --          --         --    --
shopfloor.cost.variance.line.create             --     --       --       --        --          --         --    --
shopfloor.cost.variance.line.unlink             --     --       --       --        --          --         --    --
shopfloor.count.correction.read                 --     --       +-       +-        --          --         --    --
shopfloor.count.correction.write                --     --       --       +-        --          --         --    --
shopfloor.count.correction.write:floor_total    --     --       --       --        --          --         --    --
shopfloor.count.correction.create               --     --       --       --        --          --         --    --
shopfloor.count.correction.unlink               --     --       --       --        --          --         --    --
shopfloor.count.correction.action_mark_reviewed --     --       --       +-        --          --         --    --
shopfloor.dashboard.board_data                  --     --       --       +0        --          --         --    --
shopfloor.dashboard.dlq_summary                 --     --       --       --        +0          +0         --    --
shopfloor.dashboard.get_dashboard               --     --       --       --        +0          +0         --    --
shopfloor.dashboard.move_workorder              --     --       --       +-        --          --         --    --
shopfloor.live.view.get_live_view               --     --       --       --        --          --         --    --
shopfloor.dispatch.read                         --     --       +-       +-        +-          +-         --    --
shopfloor.dispatch.write                        --     --       --       --        --          --         --    --
shopfloor.dispatch.write:payload_json           --     --       --       --        --          --         --    --
shopfloor.dispatch.write:state                  --     --       --       --        --          --         --    --
shopfloor.dispatch.write:target_id              --     --       --       --        --          --         --    --
shopfloor.dispatch.create                       --     --       --       --        --          --         --    --
shopfloor.dispatch.unlink                       --     --       --       --        --          --         --    --
shopfloor.dispatch.ack                          --     --       --       --        --          --         +-    --
shopfloor.dispatch.action_retry                 --     --       --       +-        --          +-         --    --
shopfloor.dispatch.pull                         --     --       --       --        --          --         +n    -n
shopfloor.dispatch.target.read                  --     --       +-       +-        +-          +-         --    --
shopfloor.dispatch.target.write                 --     --       --       --        --          +-         --    --
shopfloor.dispatch.target.write:company_id      --     --       --       --        --          --         --    --
shopfloor.dispatch.target.create                --     --       --       --        --          +-         --    --
shopfloor.dispatch.target.unlink                --     --       --       --        --          +-         --    --
shopfloor.downtime.report.read                  --     --       --       --        +-          +-         --    --
shopfloor.downtime.report.write                 --     --       --       --        --          --         --    --
shopfloor.downtime.report.create                --     --       --       --        --          --         --    --
shopfloor.downtime.report.unlink                --     --       --       --        --          --         --    --
shopfloor.downtime.report.compute_pareto        --     --       --       --        +0          +0         --    --
shopfloor.downtime.report.read_group            --     --       --       --        +0          +0         --    --
shopfloor.event.read                            --     --       --       --        +-          +-         --    --
shopfloor.event.write                           --     --       --       --        --          --         --    --
shopfloor.event.write:state                     --     --       --       --        --          --         --    --
shopfloor.event.write:company_id                --     --       --       --        --          --         --    --
shopfloor.event.create                          --     --       --       --        --          --         --    --
shopfloor.event.unlink                          --     --       --       --        --          --         --    --
shopfloor.event.action_create_payload_map       --     --       --       --        --          +-         --    --
shopfloor.event.action_discard                  --     --       --       --        --          +-         --    --
shopfloor.event.action_edit_and_retry           --     --       --       --        --          +-         --    --
shopfloor.event.action_retry                    --     --       --       --        --          +-         --    --
shopfloor.event.action_open_reverse_wizard      --     --       --       --        --          +-         --    --
shopfloor.event.action_reapply                  --     --       --       --        --          +-         --    --
shopfloor.event.action_reverse                  --     --       --       --        --          +-         --    --
shopfloor.event.reverse.read                    --     --       --       --        --          ++         --    --
shopfloor.event.reverse.write                   --     --       --       --        --          ++         --    --
shopfloor.event.reverse.create                  --     --       --       --        --          ++         --    --
shopfloor.event.reverse.unlink                  --     --       --       --        --          --         --    --
shopfloor.event.reverse.action_confirm          --     --       --       --        --          +-         --    --
shopfloor.event.dlq_bulk                        --     --       --       --        --          +0         --    --
shopfloor.event.ingest                          --     --       --       --        --          --         +r    rr
shopfloor.event.remap_rejected                  --     --       --       --        --          +-         --    --
shopfloor.event.key.read                        --     --       --       --        --          +-         --    --
shopfloor.event.key.write                       --     --       --       --        --          --         --    --
shopfloor.event.key.create                      --     --       --       --        --          --         --    --
shopfloor.event.key.unlink                      --     --       --       --        --          --         --    --
shopfloor.event.log.read                        --     --       --       --        +-          +-         --    --
shopfloor.event.log.write                       --     --       --       --        --          --         --    --
shopfloor.event.log.create                      --     --       --       --        --          --         --    --
shopfloor.event.log.unlink                      --     --       --       --        --          --         --    --
shopfloor.hold.read                             --     --       +-       +-        +-          +-         --    --
shopfloor.hold.write                            --     --       --       --        --          +-         --    --
shopfloor.hold.write:state                      --     --       --       --        --          --         --    --
shopfloor.hold.create                           --     --       --       --        --          +-         --    --
shopfloor.hold.unlink                           --     --       --       --        --          --         --    --
shopfloor.hold.action_release                   --     --       --       --        --          +-         --    --
shopfloor.http.producer.read                    --     --       --       --        --          +-         --    --
shopfloor.http.producer.write                   --     --       --       --        --          +-         --    --
shopfloor.http.producer.write:token_sha256      --     --       --       --        --          --         --    --
shopfloor.http.producer.create                  --     --       --       --        --          +-         --    --
shopfloor.http.producer.unlink                  --     --       --       --        --          +-         --    --
shopfloor.http.producer.action_generate_token   --     --       --       --        --          +-         --    --
shopfloor.ideal.cycle.read                      --     --       --       --        +-          +-         --    --
shopfloor.ideal.cycle.write                     --     --       --       --        --          +-         --    --
shopfloor.ideal.cycle.create                    --     --       --       --        --          +-         --    --
shopfloor.ideal.cycle.unlink                    --     --       --       --        --          +-         --    --
shopfloor.integration.user.read                 --     --       --       --        --          +-         --    --
shopfloor.integration.user.write                --     --       --       --        --          +-         --    --
shopfloor.integration.user.create               --     --       --       --        --          +-         --    --
shopfloor.integration.user.unlink               --     --       --       --        --          +-         --    --
shopfloor.integration.user.action_confirm       --     --       --       --        --          --         --    --
shopfloor.integration.user.default_get          --     --       --       --        +-          +-         --    --
shopfloor.mapping.rule.read                     --     --       --       --        +-          +-         --    --
shopfloor.mapping.rule.write                    --     --       --       --        --          +-         --    --
shopfloor.mapping.rule.create                   --     --       --       --        --          +-         --    --
shopfloor.mapping.rule.unlink                   --     --       --       --        --          +-         --    --
shopfloor.mapping.rule.action_import_params     --     --       --       --        --          +-         --    --
shopfloor.mapping.rule.field.read               --     --       --       --        +-          +-         --    --
shopfloor.mapping.rule.field.write              --     --       --       --        --          +-         --    --
shopfloor.mapping.rule.field.create             --     --       --       --        --          +-         --    --
shopfloor.mapping.rule.field.unlink             --     --       --       --        --          +-         --    --
shopfloor.mapping.rule.state.read               --     --       --       --        +-          +-         --    --
shopfloor.mapping.rule.state.write              --     --       --       --        --          +-         --    --
shopfloor.mapping.rule.state.create             --     --       --       --        --          +-         --    --
shopfloor.mapping.rule.state.unlink             --     --       --       --        --          +-         --    --
shopfloor.mapping.revision.read                 --     --       --       --        +-          +-         --    --
shopfloor.mapping.revision.write                --     --       --       --        --          --         --    --
shopfloor.mapping.revision.create               --     --       --       --        --          --         --    --
shopfloor.mapping.revision.unlink               --     --       --       --        --          --         --    --
shopfloor.mapping.revision.action_compare       --     --       --       --        --          +-         --    --
shopfloor.mapping.revision.action_open_events   --     --       --       --        +-          +-         --    --
shopfloor.mapping.revision.action_restore       --     --       --       --        --          +-         --    --
shopfloor.mapping.revision.compare.read         --     --       --       --        --          +-         --    --
shopfloor.mapping.revision.compare.write        --     --       --       --        --          +-         --    --
shopfloor.mapping.revision.compare.create       --     --       --       --        --          +-         --    --
shopfloor.mapping.revision.compare.unlink       --     --       --       --        --          +-         --    --
shopfloor.mapping.revision.compare.action_restore_from --     --       --       --        --          +-         --    --
shopfloor.mapping.revision.compare.action_swap  --     --       --       --        --          +-         --    --
shopfloor.mapping.test.read                     --     --       --       --        --          +-         --    --
shopfloor.mapping.test.write                    --     --       --       --        --          +-         --    --
shopfloor.mapping.test.create                   --     --       --       --        --          +-         --    --
shopfloor.mapping.test.unlink                   --     --       --       --        --          +-         --    --
shopfloor.mapping.test.action_run               --     --       --       --        --          +-         --    --
shopfloor.mapping.test.default_get              --     --       --       --        --          ++         --    --
shopfloor.material.map.read                     --     --       --       --        +-          +-         --    --
shopfloor.material.map.write                    --     --       --       --        --          +-         --    --
shopfloor.material.map.create                   --     --       --       --        --          +-         --    --
shopfloor.material.map.unlink                   --     --       --       --        --          +-         --    --
shopfloor.oee.report.read                       --     --       --       --        +-          +-         --    --
shopfloor.oee.report.write                      --     --       --       --        --          --         --    --
shopfloor.oee.report.create                     --     --       --       --        --          --         --    --
shopfloor.oee.report.unlink                     --     --       --       --        --          --         --    --
shopfloor.oee.report.compute_oee                --     --       --       --        +0          +0         --    --
shopfloor.oee.report.compute_standard_oee       --     --       --       --        +0          +0         --    --
shopfloor.oee.report.action_open_time_logs      --     --       --       --        +-          +-         --    --
shopfloor.oee.report.action_open_count_events   --     --       --       --        +-          +-         --    --
shopfloor.oee.working.time.read                 --     --       --       --        +-          +-         --    --
shopfloor.oee.working.time.write                --     --       --       --        --          --         --    --
shopfloor.oee.working.time.create               --     --       --       --        --          --         --    --
shopfloor.oee.working.time.unlink               --     --       --       --        --          --         --    --
shopfloor.oee.report.read_group                 --     --       --       --        +0          +0         --    --
shopfloor.operation.map.read                    --     --       --       --        +-          +-         --    --
shopfloor.operation.map.write                   --     --       --       --        --          +-         --    --
shopfloor.operation.map.create                  --     --       --       --        --          +-         --    --
shopfloor.operation.map.unlink                  --     --       --       --        --          +-         --    --
shopfloor.order.map.read                        --     --       --       --        +-          +-         --    --
shopfloor.order.map.write                       --     --       --       --        --          +-         --    --
shopfloor.order.map.create                      --     --       --       --        --          +-         --    --
shopfloor.order.map.unlink                      --     --       --       --        --          +-         --    --
shopfloor.payload.map.read                      --     --       --       --        +-          +-         --    --
shopfloor.payload.map.write                     --     --       --       --        --          +-         --    --
shopfloor.payload.map.create                    --     --       --       --        --          +-         --    --
shopfloor.payload.map.unlink                    --     --       --       --        --          +-         --    --
shopfloor.payload.map.check_events              --     --       --       --        --          ++         --    --
shopfloor.payload.map.rejected_candidates       --     --       --       --        --          +-         --    --
shopfloor.payload.preset.read                   --     --       --       --        ++          ++         --    --
shopfloor.payload.preset.write                  --     --       --       --        --          ++         --    --
shopfloor.payload.preset.create                 --     --       --       --        --          ++         --    --
shopfloor.payload.preset.unlink                 --     --       --       --        --          ++         --    --
shopfloor.probe.read                            --     --       --       --        --          +-         --    --
shopfloor.probe.write                           --     --       --       --        --          --         --    --
shopfloor.probe.create                          --     --       --       --        --          --         --    --
shopfloor.probe.unlink                          --     --       --       --        --          --         --    --
shopfloor.probe.answer                          --     --       --       --        --          --         +-    --
shopfloor.probe.pull                            --     --       --       --        --          --         +n    -n
shopfloor.probe.request                         --     --       --       --        --          +-         --    --
shopfloor.probe.status                          --     --       --       --        --          +0         --    --
shopfloor.quality.result.read                   --     --       +-       +-        +-          +-         --    --
shopfloor.quality.result.write                  --     --       --       --        --          --         --    --
shopfloor.quality.result.create                 --     --       --       --        --          +-         --    --
shopfloor.quality.result.unlink                 --     --       --       --        --          --         --    --
shopfloor.reason.map.read                       --     --       --       --        +-          +-         --    --
shopfloor.reason.map.write                      --     --       --       --        --          +-         --    --
shopfloor.reason.map.create                     --     --       --       --        --          +-         --    --
shopfloor.reason.map.unlink                     --     --       --       --        --          +-         --    --
shopfloor.source.map.read                       --     --       --       --        +-          +-         --    --
shopfloor.source.map.write                      --     --       --       --        --          +-         --    --
shopfloor.source.map.write:company_id           --     --       --       --        --          --         --    --
shopfloor.source.map.create                     --     --       --       --        --          +-         --    --
shopfloor.source.map.unlink                     --     --       --       --        --          +-         --    --
shopfloor.uom.map.read                          --     --       --       --        +-          +-         --    --
shopfloor.uom.map.write                         --     --       --       --        --          +-         --    --
shopfloor.uom.map.create                        --     --       --       --        --          +-         --    --
shopfloor.uom.map.unlink                        --     --       --       --        --          +-         --    --
stock.lot.read                                  --     --       +-       +-        --          --         --    --
stock.lot.write                                 --     --       +-       +-        --          --         --    --
stock.lot.create                                --     --       +-       +-        --          --         --    --
stock.lot.unlink                                --     --       +-       +-        --          --         --    --
stock.lot.action_shopfloor_events               --     --       --       --        --          --         --    --
stock.lot.action_shopfloor_genealogy            --     --       +-       +-        --          --         --    --
"""  # noqa: E501 (a table: one role column each, aligned on one line)

# What a refusal must name, by why it was refused (see the module docstring).
MISSING_PATTERNS = {
    "company": r"(?i)compan",
    "connection": r"(?i)connection",
    "group": r"(?i)group|Shop Floor Bridge|Manufacturing / ",
}
FIELD_GUARD_TEXT = "only audited actions may change them"
# The sidecar API: what a refused caller lacks is a connection it acts for.
SIDECAR_API = {
    "shopfloor.event.ingest",
    "shopfloor.connection.sidecar_config",
    "shopfloor.connection.heartbeat",
    "shopfloor.dispatch.pull",
    "shopfloor.dispatch.ack",
    "shopfloor.probe.pull",
    "shopfloor.probe.answer",
}


def parse_matrix(text):
    lines = [line.split() for line in text.strip().splitlines()]
    header, rows = lines[0], lines[1:]
    assert tuple(header[1:]) == ROLES, header
    table = {}
    for row in rows:
        assert len(row) == len(ROLES) + 1, row
        assert row[0] not in table, f"{row[0]} twice in MATRIX"
        table[row[0]] = dict(zip(ROLES, row[1:], strict=True))
    return table


def module_surface(env):
    """{model: sorted row names}: CRUD of concrete models and every public
    method a class of this module defines (what RPC can call)."""
    surface = {}
    for name in env.registry:
        model = env[name]
        ours = [cls for cls in type(model).mro() if getattr(cls, "__module__", "").startswith(MODULE_PREFIX)]
        if not ours:
            continue
        rows = set() if model._abstract else set(CRUD)
        for cls in ours:
            for attr, value in vars(cls).items():
                if attr.startswith("_") or not callable(value) or isinstance(value, type):
                    continue
                if model._abstract and attr in CRUD:
                    # No records, no table: these overrides run in the concrete
                    # models inheriting the mixin, whose CRUD rows cover them.
                    continue
                try:
                    get_public_method(model, attr)
                except (AccessError, AttributeError):
                    continue
                rows.add(attr)
        surface[name] = rows
    return surface


class _Rollback(Exception):
    """Raised inside the savepoint of each call so that nothing of it stays."""


@tagged("post_install", "-at_install")
class TestAccessMatrix(ShopfloorCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = cls.env
        cls.company_a = cls.company
        cls.company_b = env["res.company"].create({"name": f"{B_MARK} Plant"})
        cls.users = cls._make_users()
        cls.fx = {"A": cls._company_a_records(), "B": cls._company_b_records()}
        for side in "AB":
            cls._common_records(side)

    # -- fixtures ---------------------------------------------------------------

    @classmethod
    def _make_users(cls):
        company = cls.company_a
        groups = {
            "portal": "base.group_portal",
            "internal": "base.group_user",
            "mrp_user": "base.group_user,mrp.group_mrp_user",
            "mrp_admin": "base.group_user,mrp.group_mrp_manager",
            "bridge_user": "base.group_user,shopfloor_bridge.shopfloor_bridge_group_user",
            "bridge_mgr": "base.group_user,shopfloor_bridge.shopfloor_bridge_group_manager",
            "integ": "base.group_user,shopfloor_bridge.shopfloor_bridge_group_integration",
            "other_integ": "base.group_user,shopfloor_bridge.shopfloor_bridge_group_integration",
        }
        users = {
            role: new_test_user(
                cls.env, f"matrix-{role}", groups=group, company_id=company.id, company_ids=[(6, 0, company.ids)]
            )
            for role, group in groups.items()
        }
        # The second connection of company A, served by another sidecar.
        cls.connection_a2 = cls.env["shopfloor.connection"].create(
            {"code": "test-conn-2", "name": "Test plant 2", "kind": "mqtt", "company_id": company.id}
        )
        if "integration_user_ids" in cls.env["shopfloor.connection"]._fields:
            cls.connection.integration_user_ids = [(4, users["integ"].id)]
            cls.connection_a2.integration_user_ids = [(4, users["other_integ"].id)]
        return users

    @classmethod
    def _company_a_records(cls):
        draft = cls.env["mrp.production"].create(
            {"product_id": cls.product_bracket.id, "bom_id": cls.bom.id, "product_qty": 5}
        )
        return {
            "company": cls.company_a,
            "conn": cls.connection,
            "wc": cls.wc_press1,
            "mo": cls.mo1,
            "mo_other": cls.mo2,
            "mo_draft": draft,
            "bom": cls.bom,
            "operation": cls.op_cutting,
            "wo": cls.workorder_of(cls.mo1, "Cutting"),
            "wo_other": cls.workorder_of(cls.mo2, "Cutting"),
            "source": "plant1/line1/press-01",
        }

    @classmethod
    def _company_b_records(cls):
        env = cls.env
        company = cls.company_b
        in_b = env(context=dict(env.context, allowed_company_ids=[company.id, cls.company_a.id]))
        wc = in_b["mrp.workcenter"].create(
            {"name": f"{B_MARK} Press", "code": f"{B_MARK}-PRESS", "costs_hour": 50.0, "company_id": company.id}
        )
        bom = (
            in_b["mrp.bom"]
            .with_company(company)
            .create(
                {
                    "product_tmpl_id": cls.product_bracket.product_tmpl_id.id,
                    "product_qty": 1.0,
                    "company_id": company.id,
                    "consumption": "flexible",
                    "bom_line_ids": [(0, 0, {"product_id": cls.product_bolt.id, "product_qty": 2})],
                    "operation_ids": [
                        (
                            0,
                            0,
                            {
                                "name": f"{B_MARK} Cutting",
                                "workcenter_id": wc.id,
                                "time_mode": "manual",
                                "time_cycle_manual": 1.0,
                            },
                        )
                    ],
                }
            )
        )

        def make_mo(confirm):
            production = (
                in_b["mrp.production"]
                .with_company(company)
                .create(
                    {
                        "product_id": cls.product_bracket.id,
                        "bom_id": bom.id,
                        "product_qty": 10,
                        "company_id": company.id,
                        "origin": f"{B_MARK} order",
                    }
                )
            )
            if confirm:
                production.action_confirm()
            return production

        mo, mo_other, draft = make_mo(True), make_mo(True), make_mo(False)
        conn = env["shopfloor.connection"].create(
            {"code": f"{B_MARK.lower()}-conn", "name": f"{B_MARK} plant", "kind": "mqtt", "company_id": company.id}
        )
        source = f"{B_MARK.lower()}/line1/press"
        env["shopfloor.source.map"].create({"connection_id": conn.id, "source": source, "workcenter_id": wc.id})
        env["shopfloor.reason.map"].create({"connection_id": conn.id, "code": "BRK", "loss_id": cls.loss_breakdown.id})
        env["shopfloor.material.map"].create(
            {"connection_id": conn.id, "code": "M8", "product_id": cls.product_bolt.id}
        )
        env["shopfloor.uom.map"].create({"connection_id": conn.id, "code": "PCS", "uom_id": cls.uom_unit.id})
        return {
            "company": company,
            "conn": conn,
            "wc": wc,
            "mo": mo,
            "mo_other": mo_other,
            "mo_draft": draft,
            "bom": bom,
            "operation": bom.operation_ids,
            "wo": mo.workorder_ids[:1],
            "wo_other": mo_other.workorder_ids[:1],
            "source": source,
        }

    @classmethod
    def _common_records(cls, side):
        """The records every company gets the same way."""
        fx = cls.fx[side]
        conn, wc, mo, company = fx["conn"], fx["wc"], fx["mo"], fx["company"]
        env = cls.env["base"].with_company(company).env
        conn_id = conn.id
        fx["order_map"] = env["shopfloor.order.map"].create(
            {"connection_id": conn_id, "mes_ref": f"{side}-ORDER", "production_id": mo.id}
        )
        fx["operation_map"] = env["shopfloor.operation.map"].create(
            {"connection_id": conn_id, "operation": f"{side}-OP", "operation_id": fx["operation"].id}
        )
        fx["rule"] = env["shopfloor.mapping.rule"].create(
            {
                "connection_id": conn_id,
                "kind": "counter",
                "protocol": "opcua",
                "address": f"ns=2;s={side}/Good",
                "source": fx["source"],
                "event_type": "production.reported",
            }
        )
        fx["rule_field"] = env["shopfloor.mapping.rule.field"].create(
            {"rule_id": fx["rule"].id, "name": "order", "source": "text", "text_value": f"{side}-ORDER"}
        )
        fx["rule_state"] = env["shopfloor.mapping.rule.state"].create(
            {"rule_id": fx["rule"].id, "value": "1", "state": "running"}
        )
        fx["rule"].params_import = '{"wrap_at": 65536}'
        fx["source_map"] = conn.source_map_ids[:1]
        fx["reason_map"] = conn.reason_map_ids[:1]
        fx["material_map"] = conn.material_map_ids[:1]
        fx["uom_map"] = conn.uom_map_ids[:1]
        fx["spare_conn"] = env["shopfloor.connection"].create(
            {"code": f"spare-{side.lower()}", "name": f"Spare {side}", "company_id": company.id}
        )
        fx["spare_wc"] = env["mrp.workcenter"].create({"name": f"{side} spare", "company_id": company.id})
        fx["target"] = env["shopfloor.dispatch.target"].create(
            {"connection_id": conn_id, "workcenter_id": wc.id, "kind": "opcua"}
        )
        fx["msg_sent"], fx["msg_failed"] = env["shopfloor.dispatch"].create(
            [
                {"target_id": fx["target"].id, "version": 1, "state": "sent", "payload_json": "{}"},
                {
                    "target_id": fx["target"].id,
                    "version": 2,
                    "state": "failed",
                    "retryable": True,
                    "payload_json": "{}",
                },
            ]
        )
        # A dead letter (a known type with invalid data) and its history.
        [result] = env["shopfloor.event"].ingest([cls._event(side, "workorder.started", {})])
        fx["event"] = env["shopfloor.event"].browse(result["event_id"])
        assert fx["event"].state == "rejected" and fx["event"].company_id == company, result
        fx["event_log"] = fx["event"].history_ids[:1]
        start = PLANT_EPOCH - timedelta(days=1)
        fx["log_down"], fx["log_work"] = env["mrp.workcenter.productivity"].create(
            [
                {
                    "workcenter_id": wc.id,
                    "loss_id": cls.loss_breakdown.id,
                    "company_id": company.id,
                    "date_start": start,
                    "date_end": start + timedelta(minutes=20),
                    "description": f"{side} breakdown",
                },
                {
                    "workcenter_id": wc.id,
                    "loss_id": cls.loss_productive.id,
                    "company_id": company.id,
                    "workorder_id": fx["wo"].id,
                    "date_start": start + timedelta(minutes=20),
                    "date_end": start + timedelta(minutes=80),
                },
            ]
        )
        env["shopfloor.cost.variance"]._refresh_for_productions(mo)
        fx["variance"] = env["shopfloor.cost.variance"].search(
            [("production_id", "=", mo.id), ("level", "=", "production")]
        )
        fx["variance_line"] = fx["variance"].line_ids[:1]
        env.flush_all()
        fx["oee_row"] = env["shopfloor.oee.report"].search([("workcenter_id", "=", wc.id)], limit=1)
        fx["working_time"] = env["shopfloor.oee.working.time"].search([("workcenter_id", "=", wc.id)], limit=1)
        fx["ideal_cycle"] = env["shopfloor.ideal.cycle"].create(
            {"workcenter_id": wc.id, "product_id": cls.product_bracket.id, "ideal_cycle_time": 1.0}
        )
        fx["loss"] = env["mrp.workcenter.productivity.loss"].create(
            {"name": f"{side} planned stop", "loss_id": env.ref("mrp.category_availability").id}
        )
        fx["downtime_row"] = env["shopfloor.downtime.report"].search([("workcenter_id", "=", wc.id)], limit=1)
        fx["hold"] = env["shopfloor.hold"].create(
            {"production_id": fx["mo_other"].id, "company_id": company.id, "reason": f"{side} hold"}
        )
        fx["lot"] = env["stock.lot"].create(
            {"name": f"{side} LOT-1", "product_id": cls.product_bracket.id, "company_id": company.id}
        )
        fx["spare_lot"] = env["stock.lot"].create(
            {"name": f"{side} LOT-2", "product_id": cls.product_bracket.id, "company_id": company.id}
        )
        fx["count_correction"] = env["shopfloor.count.correction"].create(
            {"production_id": fx["mo_other"].id, "event_type": "production.reported", "floor_total": 5.0}
        )
        fx["quality"] = env["shopfloor.quality.result"].create(
            {
                "characteristic": f"{side} width",
                "passed": True,
                "company_id": company.id,
                "production_id": mo.id,
                "time": start,
            }
        )
        fx["category"] = env["product.category"].create({"name": f"{side} category"})
        fx["payload_map"] = env["shopfloor.payload.map"].create(
            {"connection_id": conn_id, "name": f"{side} map", "match": f"{side}/#", "expression": "$"}
        )
        fx["preset"] = env["shopfloor.payload.preset"].create(
            {"code": f"{side}-preset", "name": f"{side} preset", "expression": "$"}
        )
        fx["producer"] = env["shopfloor.http.producer"].create({"connection_id": conn_id, "name": f"{side} MES"})
        fx["alert_rule"] = env["shopfloor.alert.rule"].create(
            {"connection_id": conn_id, "kind": "spool_depth", "threshold": 1, "webhook_kind": "json"}
        )
        fx["alert"] = env["shopfloor.alert"].create(
            {"rule_id": fx["alert_rule"].id, "title": f"{side} alert", "opened_at": start}
        )
        # Port 9 (discard): nothing listens, the post fails at once and is kept for a retry.
        fx["alert_delivery"] = env["shopfloor.alert.delivery"].create(
            {
                "alert_id": fx["alert"].id,
                "transition": "opened",
                "kind": "json",
                "url": "http://127.0.0.1:9/matrix",
                "payload": "{}",
            }
        )
        # An OPC UA connection to browse, and a request the sidecar of the main connection has taken.
        fx["ua_conn"] = env["shopfloor.connection"].create(
            {"code": f"ua-{side.lower()}", "name": f"{side} OPC UA", "kind": "opcua", "company_id": company.id}
        )
        fx["probe"] = env["shopfloor.probe"].create(
            {"connection_id": conn_id, "op": "browse", "state": "taken", "requested_epoch": time.time()}
        )
        # A payload the sidecar could not read as an event, as it sends one.
        [raw] = env["shopfloor.event"].ingest(
            [
                {
                    "rejected": True,
                    "id": f"{side}-raw",
                    "source": f"{side}/kepware",
                    "connection": conn.code,
                    "raw_b64": "eyJ2IjogMX0=",
                    "raw_size": 8,
                    "truncated": False,
                    "reason": "not a CloudEvent",
                    "observedtime": cls.iso(PLANT_EPOCH),
                }
            ]
        )
        fx["raw_event"] = env["shopfloor.event"].browse(raw["event_id"])
        fx["event_key"] = env["shopfloor.event.key"].create(
            {"key_scope": conn_id, "company_id": company.id, "source": fx["source"], "event_uid": f"{side}-purged"}
        )
        fx["revision"] = env["shopfloor.mapping.revision"].search(
            [("connection_id", "=", conn_id)], order="sequence desc", limit=1
        )
        for key in (
            "variance",
            "variance_line",
            "oee_row",
            "working_time",
            "downtime_row",
            "event_log",
            "wo",
            "operation",
            "revision",
        ):
            assert fx[key], f"fixture {key} of company {side} is empty"

    @classmethod
    def _event(cls, side, event_type, data):
        fx = cls.fx[side]
        return {
            "specversion": "1.0",
            "id": uuid.uuid4().hex,
            "source": fx["source"],
            "type": event_type,
            "time": cls.iso(PLANT_EPOCH),
            "connection": fx["conn"].code,
            "data": data,
        }

    # -- what each row calls ------------------------------------------------------

    def rec(self, env, side, key):
        record = self.fx[side][key]
        return env[record._name].browse(record.ids)

    def wizard(self, env, side, model="shopfloor.mapping.test"):
        """A wizard owned by the calling user (transient records are their creator's)."""
        values = {"connection_id": self.fx[side]["conn"].id}
        if model == "shopfloor.mapping.test":
            values["payload"] = json.dumps(self._event(side, "workorder.started", {"order": self.fx[side]["mo"].name}))
        else:
            values.update({"mode": "create", "login": f"sidecar-{uuid.uuid4().hex[:8]}", "name": "Sidecar"})
        record = env[model].sudo().create(values)
        return env[model].browse(record.id)

    def revision_compare(self, env, side):
        """A comparison of the connection's newest revision with itself, owned by the calling user."""
        revision = self.fx[side]["revision"]
        model = "shopfloor.mapping.revision.compare"
        record = env[model].sudo().create({"from_revision_id": revision.id, "to_revision_id": revision.id})
        return env[model].browse(record.id)

    def crud_specs(self):
        """Per model: the record used (by fixture key), harmless write values and create values."""
        fx = self.fx

        def conn(side):
            return fx[side]["conn"].id

        return {
            "mrp.production": (
                "mo",
                {"origin": "matrix"},
                lambda s: {
                    "product_id": self.product_bracket.id,
                    "product_qty": 1,
                    "company_id": fx[s]["company"].id,
                    "picking_type_id": fx[s]["mo"].picking_type_id.id,
                },
                "mo_draft",
            ),
            "mrp.workorder": (
                "wo",
                {"name": "matrix"},
                lambda s: {
                    "name": "matrix",
                    "workcenter_id": fx[s]["wc"].id,
                    "production_id": fx[s]["mo"].id,
                    "product_uom_id": self.uom_unit.id,
                },
                "wo",
            ),
            "mrp.workcenter": (
                "wc",
                {"note": "matrix"},
                lambda s: {"name": "matrix", "company_id": fx[s]["company"].id},
                "spare_wc",
            ),
            "mrp.workcenter.productivity": (
                "log_down",
                {"description": "matrix"},
                lambda s: {
                    "workcenter_id": fx[s]["wc"].id,
                    "loss_id": self.loss_breakdown.id,
                    "company_id": fx[s]["company"].id,
                    "date_start": PLANT_EPOCH,
                    "date_end": PLANT_EPOCH + timedelta(minutes=5),
                },
                "log_down",
            ),
            "product.category": (
                "category",
                {"shopfloor_scrap_threshold": 5.0},
                lambda s: {"name": "matrix"},
                "category",
            ),
            "res.company": (
                "company",
                {"shopfloor_hold_on_quality_fail": False},
                lambda s: {"name": "matrix"},
                "company",
            ),
            "shopfloor.connection": (
                "conn",
                {"name": "matrix"},
                lambda s: {"code": f"new-{s}", "name": "matrix", "company_id": fx[s]["company"].id},
                "spare_conn",
            ),
            "shopfloor.cost.variance": (
                "variance",
                {"flag_reason": "matrix"},
                lambda s: {
                    "name": "matrix",
                    "level": "production",
                    "production_id": fx[s]["mo_draft"].id,
                    "company_id": fx[s]["company"].id,
                },
                "variance",
            ),
            "shopfloor.cost.variance.line": (
                "variance_line",
                {"qty_consumed": 1.0},
                lambda s: {"variance_id": fx[s]["variance"].id, "product_id": self.product_steel.id},
                "variance_line",
            ),
            "shopfloor.dispatch": (
                "msg_sent",
                {"error": "matrix"},
                lambda s: {"target_id": fx[s]["target"].id, "version": 9},
                "msg_sent",
            ),
            "shopfloor.dispatch.target": (
                "target",
                {"depth": 3},
                lambda s: {
                    "connection_id": conn(s),
                    "workcenter_id": fx[s]["wc"].id,
                    "kind": "mqtt",
                    "mqtt_topic": "matrix/queue",
                },
                "target",
            ),
            "shopfloor.downtime.report": (
                "downtime_row",
                {"duration": 1.0},
                lambda s: {"duration": 1.0},
                "downtime_row",
            ),
            "shopfloor.event": (
                "event",
                {"discard_reason": "matrix"},
                lambda s: {
                    "event_uid": "matrix",
                    "source": fx[s]["source"],
                    "company_id": fx[s]["company"].id,
                    "connection_id": conn(s),
                },
                "event",
            ),
            "shopfloor.event.key": (
                "event_key",
                {"event_id": 1},
                lambda s: {
                    "key_scope": conn(s),
                    "company_id": fx[s]["company"].id,
                    "source": "matrix",
                    "event_uid": "matrix",
                },
                "event_key",
            ),
            "shopfloor.event.log": (
                "event_log",
                {"note": "matrix"},
                lambda s: {"event_id": fx[s]["event"].id, "action": "retry"},
                "event_log",
            ),
            "stock.lot": (
                "lot",
                {"note": "matrix"},
                lambda s: {
                    "name": f"matrix {uuid.uuid4().hex[:8]}",
                    "product_id": self.product_bracket.id,
                    "company_id": fx[s]["company"].id,
                },
                "spare_lot",
            ),
            "shopfloor.count.correction": (
                "count_correction",
                {"review_note": "matrix"},
                lambda s: {"production_id": fx[s]["mo"].id, "event_type": "production.reported"},
                "count_correction",
            ),
            "shopfloor.alert": (
                "alert",
                {"title": "matrix"},
                lambda s: {
                    "rule_id": fx[s]["alert_rule"].id,
                    "title": "matrix",
                    "state": "resolved",
                    "opened_at": PLANT_EPOCH,
                },
                "alert",
            ),
            "shopfloor.alert.delivery": (
                "alert_delivery",
                {"last_error": "matrix"},
                lambda s: {
                    "alert_id": fx[s]["alert"].id,
                    "transition": "resolved",
                    "kind": "json",
                    "url": "http://127.0.0.1:9/matrix",
                    "payload": "{}",
                },
                "alert_delivery",
            ),
            "shopfloor.alert.rule": (
                "alert_rule",
                {"threshold": 5},
                lambda s: {"connection_id": conn(s), "kind": "heartbeat_age", "threshold": 60},
                "alert_rule",
            ),
            "shopfloor.hold": (
                "hold",
                {"reason": "matrix"},
                lambda s: {"production_id": fx[s]["mo"].id, "company_id": fx[s]["company"].id, "reason": "matrix"},
                "hold",
            ),
            "shopfloor.mapping.rule": (
                "rule",
                {"sequence": 99},
                lambda s: {
                    "connection_id": conn(s),
                    "kind": "counter",
                    "protocol": "opcua",
                    "address": "ns=2;s=matrix",
                    "source": "matrix",
                    "event_type": "production.reported",
                },
                "rule",
            ),
            "shopfloor.mapping.rule.field": (
                "rule_field",
                {"text_value": "matrix"},
                lambda s: {"rule_id": fx[s]["rule"].id, "name": "operation", "source": "text", "text_value": "M"},
                "rule_field",
            ),
            "shopfloor.mapping.rule.state": (
                "rule_state",
                {"state": "idle"},
                lambda s: {"rule_id": fx[s]["rule"].id, "value": "2", "state": "down"},
                "rule_state",
            ),
            "shopfloor.http.producer": (
                "producer",
                {"source_prefix": "matrix/"},
                lambda s: {"connection_id": conn(s), "name": "matrix"},
                "producer",
            ),
            "shopfloor.mapping.revision": (
                "revision",
                {"summary": "matrix"},
                lambda s: {"connection_id": conn(s), "sequence": 999},
                "revision",
            ),
            "shopfloor.payload.map": (
                "payload_map",
                {"sequence": 99},
                lambda s: {"connection_id": conn(s), "name": "matrix", "match": "matrix/#", "expression": "$"},
                "payload_map",
            ),
            "shopfloor.payload.preset": (
                "preset",
                {"description": "matrix"},
                lambda s: {"code": f"matrix-{s}", "name": "matrix", "expression": "$"},
                "preset",
            ),
            "shopfloor.probe": (
                "probe",
                {"state": "done"},
                lambda s: {"connection_id": fx[s]["ua_conn"].id, "op": "browse"},
                "probe",
            ),
            "shopfloor.material.map": (
                "material_map",
                {"code": "MATRIX"},
                lambda s: {"connection_id": conn(s), "code": "MATRIX", "product_id": self.product_steel.id},
                "material_map",
            ),
            "shopfloor.oee.report": ("oee_row", {"oee": 1.0}, lambda s: {"oee": 1.0}, "oee_row"),
            "shopfloor.oee.working.time": (
                "working_time",
                {"minutes": 1.0},
                lambda s: {"workcenter_id": fx[s]["spare_wc"].id, "date": PLANT_EPOCH.date(), "minutes": 1.0},
                "working_time",
            ),
            "shopfloor.ideal.cycle": (
                "ideal_cycle",
                {"ideal_cycle_time": 2.0},
                lambda s: {
                    "workcenter_id": fx[s]["spare_wc"].id,
                    "product_id": self.product_bracket.id,
                    "ideal_cycle_time": 1.0,
                },
                "ideal_cycle",
            ),
            "mrp.workcenter.productivity.loss": (
                "loss",
                {"sequence": 99},
                lambda s: {"name": "matrix", "loss_id": self.env.ref("mrp.category_availability").id},
                "loss",
            ),
            "shopfloor.operation.map": (
                "operation_map",
                {"operation": "MATRIX"},
                lambda s: {"connection_id": conn(s), "operation": "MATRIX", "operation_id": fx[s]["operation"].id},
                "operation_map",
            ),
            "shopfloor.order.map": (
                "order_map",
                {"mes_ref": "MATRIX"},
                lambda s: {"connection_id": conn(s), "mes_ref": "MATRIX", "production_id": fx[s]["mo_draft"].id},
                "order_map",
            ),
            "shopfloor.quality.result": (
                "quality",
                {"unit": "mm"},
                lambda s: {
                    "characteristic": "matrix",
                    "passed": True,
                    "company_id": fx[s]["company"].id,
                    "production_id": fx[s]["mo"].id,
                    "time": PLANT_EPOCH,
                },
                "quality",
            ),
            "shopfloor.reason.map": (
                "reason_map",
                {"code": "MATRIX"},
                lambda s: {"connection_id": conn(s), "code": "MATRIX", "loss_id": self.loss_setup.id},
                "reason_map",
            ),
            "shopfloor.source.map": (
                "source_map",
                {"source": "matrix"},
                lambda s: {"connection_id": conn(s), "source": "matrix", "workcenter_id": fx[s]["wc"].id},
                "source_map",
            ),
            "shopfloor.uom.map": (
                "uom_map",
                {"code": "MATRIX"},
                lambda s: {"connection_id": conn(s), "code": "MATRIX", "uom_id": self.uom_kg.id},
                "uom_map",
            ),
        }

    def method_calls(self):
        """Row → (call(env, side) → answer, kind). kind: "action" (allowed = +),
        "query" (allowed = + if the answer mentions company B, else 0), or a
        function classifying the answer."""

        def past_the_access_checks(call):
            """An allowed caller stops at the event's state (not applied / not reversed): that is not a refusal."""

            def run(env, side):
                try:
                    return call(env, side)
                except UserError as error:
                    if isinstance(error, AccessError) or "events can be re" not in str(error):
                        raise
                    return "refused by state"

            return run

        def reverse_wizard(env, side):
            """A reverse wizard of the caller (transient records are their creator's) on the side's event."""
            record = (
                env["shopfloor.event.reverse"]
                .sudo()
                .create({"reason": "matrix", "event_ids": [(6, 0, self.fx[side]["event"].ids)]})
            )
            return env["shopfloor.event.reverse"].browse(record.id)

        fx = self.fx
        rec = self.rec
        day = (PLANT_EPOCH - timedelta(days=1)).date()

        def ack_outcome(answer):
            return "+" if answer else "0"

        def ingest_outcome(answer):
            return answer

        def ack(env, side):
            message = fx[side]["msg_sent"]
            env["shopfloor.dispatch"].ack([{"id": message.id, "status": "acked", "error": ""}])
            env.flush_all()
            message.invalidate_recordset()
            return message.sudo().state == "acked"

        def ingest(env, side):
            [result] = env["shopfloor.event"].ingest(
                [
                    self._event(
                        side, "workorder.started", {"order": fx[side]["mo"].name, "operation": fx[side]["wo"].name}
                    )
                ]
            )
            event = self.env["shopfloor.event"].browse(result.get("event_id") or [])
            if result["status"] == "rejected" and event.error_class == "forbidden":
                return ("r", event.error_message or result.get("error") or "")
            return ("+", "")

        def mark_done(env, side):
            production = fx[side]["mo"]
            production.qty_producing = production.product_qty
            production._set_qty_producing()
            return rec(env, side, "mo").with_context(skip_consumption=True, skip_backorder=True).button_mark_done()

        def dlq_bulk(env, side):
            return env["shopfloor.event"].dlq_bulk([("connection_id", "=", fx[side]["conn"].id)], "discard", "matrix")

        def edit_and_retry(env, side):
            event = self._event(side, "workorder.started", {"order": fx[side]["mo"].name})
            return rec(env, side, "event").action_edit_and_retry(json.dumps(event))

        return {
            "mrp.production.action_cancel": (lambda env, s: rec(env, s, "mo").action_cancel(), "action"),
            "mrp.production.action_confirm": (lambda env, s: rec(env, s, "mo_draft").action_confirm(), "action"),
            "mrp.production.action_shopfloor_cost_refresh": (
                lambda env, s: rec(env, s, "mo").action_shopfloor_cost_refresh(),
                "action",
            ),
            "mrp.production.action_view_shopfloor_count_corrections": (
                lambda env, s: rec(env, s, "mo").action_view_shopfloor_count_corrections(),
                "action",
            ),
            "mrp.production.action_view_shopfloor_holds": (
                lambda env, s: rec(env, s, "mo").action_view_shopfloor_holds(),
                "action",
            ),
            "mrp.production.button_mark_done": (mark_done, "action"),
            "mrp.production.button_unplan": (lambda env, s: rec(env, s, "mo").button_unplan(), "action"),
            "mrp.workorder.action_cancel": (lambda env, s: rec(env, s, "wo").action_cancel(), "action"),
            "mrp.workorder.button_done": (lambda env, s: rec(env, s, "wo").button_done(), "action"),
            "mrp.workorder.button_finish": (lambda env, s: rec(env, s, "wo").button_finish(), "action"),
            "mrp.workorder.button_start": (lambda env, s: rec(env, s, "wo").button_start(), "action"),
            "mrp.workcenter.action_shopfloor_dispatch_log": (
                lambda env, s: rec(env, s, "wc").action_shopfloor_dispatch_log(),
                "action",
            ),
            "mrp.workcenter.action_shopfloor_push_queue": (
                lambda env, s: rec(env, s, "wc").action_shopfloor_push_queue(),
                "action",
            ),
            "shopfloor.connection.action_clear_secrets": (
                lambda env, s: rec(env, s, "conn").action_clear_secrets(),
                "action",
            ),
            "shopfloor.connection.action_open_dlq": (lambda env, s: rec(env, s, "conn").action_open_dlq(), "action"),
            "shopfloor.connection.action_open_events": (
                lambda env, s: rec(env, s, "conn").action_open_events(),
                "action",
            ),
            "shopfloor.connection.action_open_mapping_test": (
                lambda env, s: rec(env, s, "conn").action_open_mapping_test(),
                "action",
            ),
            "shopfloor.mapping.rule.action_import_params": (
                lambda env, s: rec(env, s, "rule").action_import_params(),
                "action",
            ),
            "shopfloor.connection.heartbeat": (
                lambda env, s: env["shopfloor.connection"].heartbeat(fx[s]["conn"].code, {}),
                "action",
            ),
            "shopfloor.connection.sidecar_config": (
                lambda env, s: env["shopfloor.connection"].sidecar_config(fx[s]["conn"].code),
                "action",
            ),
            "shopfloor.cost.variance.action_open_moves": (
                lambda env, s: rec(env, s, "variance").action_open_moves(),
                "action",
            ),
            "shopfloor.cost.variance.action_open_scraps": (
                lambda env, s: rec(env, s, "variance").action_open_scraps(),
                "action",
            ),
            "shopfloor.cost.variance.action_open_time_logs": (
                lambda env, s: rec(env, s, "variance").action_open_time_logs(),
                "action",
            ),
            "shopfloor.cost.variance.action_refresh": (
                lambda env, s: rec(env, s, "variance").action_refresh(),
                "action",
            ),
            "shopfloor.dashboard.board_data": (lambda env, s: env["shopfloor.dashboard"].board_data(), "query"),
            "shopfloor.dashboard.dlq_summary": (
                lambda env, s: env["shopfloor.dashboard"].dlq_summary([("connection_id", "=", fx[s]["conn"].id)]),
                lambda answer: "+" if sum(answer["counts"].values()) else "0",
            ),
            "shopfloor.dashboard.get_dashboard": (lambda env, s: env["shopfloor.dashboard"].get_dashboard(), "query"),
            "shopfloor.live.view.get_live_view": (lambda env, s: env["shopfloor.live.view"].get_live_view(), "query"),
            "stock.lot.action_shopfloor_events": (
                lambda env, s: rec(env, s, "lot").action_shopfloor_events(),
                "action",
            ),
            "stock.lot.action_shopfloor_genealogy": (
                lambda env, s: rec(env, s, "lot").action_shopfloor_genealogy(),
                "action",
            ),
            "shopfloor.dashboard.move_workorder": (
                lambda env, s: env["shopfloor.dashboard"].move_workorder(fx[s]["wo"].id, "1", False),
                "action",
            ),
            "shopfloor.dispatch.ack": (ack, ack_outcome),
            "shopfloor.dispatch.action_retry": (lambda env, s: rec(env, s, "msg_failed").action_retry(), "action"),
            "shopfloor.dispatch.pull": (
                lambda env, s: env["shopfloor.dispatch"].pull(fx[s]["conn"].code, 10),
                "action",
            ),
            "shopfloor.probe.answer": (
                lambda env, s: env["shopfloor.probe"].answer([{"id": fx[s]["probe"].id, "ok": True, "result": 1}]),
                "action",
            ),
            "shopfloor.probe.pull": (lambda env, s: env["shopfloor.probe"].pull(fx[s]["conn"].code, 10), "action"),
            "shopfloor.probe.request": (
                lambda env, s: env["shopfloor.probe"].request(fx[s]["ua_conn"].id, "browse", ""),
                "action",
            ),
            "shopfloor.probe.status": (
                lambda env, s: env["shopfloor.probe"].status([fx[s]["probe"].id]),
                lambda answer: "+" if answer else "0",
            ),
            "shopfloor.downtime.report.compute_pareto": (
                lambda env, s: env["shopfloor.downtime.report"].compute_pareto(
                    [("workcenter_id", "=", fx[s]["wc"].id)]
                ),
                lambda answer: "+" if answer else "0",
            ),
            "shopfloor.downtime.report.read_group": (
                lambda env, s: env["shopfloor.downtime.report"].read_group(
                    [("workcenter_id", "=", fx[s]["wc"].id)], ["duration:sum"], ["loss_id"]
                ),
                lambda answer: "+" if answer else "0",
            ),
            "shopfloor.event.action_create_payload_map": (
                lambda env, s: rec(env, s, "raw_event").action_create_payload_map(),
                "action",
            ),
            "shopfloor.event.remap_rejected": (
                lambda env, s: env["shopfloor.event"].remap_rejected(
                    fx[s]["payload_map"].id, [{"event_id": fx[s]["raw_event"].id, "events": []}]
                ),
                "action",
            ),
            "shopfloor.http.producer.action_generate_token": (
                lambda env, s: rec(env, s, "producer").action_generate_token(),
                "action",
            ),
            "shopfloor.payload.map.check_events": (
                lambda env, s: env["shopfloor.payload.map"].check_events([self._event(s, "workorder.started", {})]),
                "action",
            ),
            "shopfloor.payload.map.rejected_candidates": (
                lambda env, s: rec(env, s, "payload_map").rejected_candidates(5),
                "action",
            ),
            "shopfloor.event.action_discard": (lambda env, s: rec(env, s, "event").action_discard("matrix"), "action"),
            "shopfloor.event.action_edit_and_retry": (edit_and_retry, "action"),
            "shopfloor.event.action_retry": (lambda env, s: rec(env, s, "event").action_retry(), "action"),
            # The fixture's event is not applied: an allowed caller gets as far as the state check.
            "shopfloor.event.action_reverse": (
                past_the_access_checks(lambda env, s: rec(env, s, "event").action_reverse("matrix")),
                "action",
            ),
            "shopfloor.event.action_reapply": (
                past_the_access_checks(lambda env, s: rec(env, s, "event").action_reapply("matrix")),
                "action",
            ),
            "shopfloor.event.action_open_reverse_wizard": (
                lambda env, s: rec(env, s, "event").action_open_reverse_wizard(),
                "action",
            ),
            "shopfloor.event.reverse.read": (lambda env, s: reverse_wizard(env, s).read(["id"]), "action"),
            "shopfloor.event.reverse.write": (lambda env, s: reverse_wizard(env, s).write({"reason": "x"}), "action"),
            "shopfloor.event.reverse.create": (
                lambda env, s: env["shopfloor.event.reverse"].create({"reason": "matrix"}),
                "action",
            ),
            "shopfloor.event.reverse.unlink": (lambda env, s: reverse_wizard(env, s).unlink(), "action"),
            "shopfloor.event.reverse.action_confirm": (
                past_the_access_checks(lambda env, s: reverse_wizard(env, s).action_confirm()),
                "action",
            ),
            "shopfloor.event.dlq_bulk": (dlq_bulk, lambda answer: "+" if answer else "0"),
            "shopfloor.event.ingest": (ingest, ingest_outcome),
            "shopfloor.count.correction.action_mark_reviewed": (
                lambda env, s: rec(env, s, "count_correction").action_mark_reviewed(),
                "action",
            ),
            "shopfloor.hold.action_release": (lambda env, s: rec(env, s, "hold").action_release(), "action"),
            "shopfloor.alert.rule.action_check_now": (
                lambda env, s: rec(env, s, "alert_rule").action_check_now(),
                "action",
            ),
            "shopfloor.alert.delivery.action_send_now": (
                lambda env, s: rec(env, s, "alert_delivery").action_send_now(),
                "action",
            ),
            "shopfloor.connection.action_check_alerts": (
                lambda env, s: rec(env, s, "conn").action_check_alerts(),
                "action",
            ),
            "shopfloor.connection.action_open_alerts": (
                lambda env, s: rec(env, s, "conn").action_open_alerts(),
                "action",
            ),
            "shopfloor.integration.user.action_confirm": (
                lambda env, s: self.wizard(env, s, "shopfloor.integration.user").action_confirm(),
                "action",
            ),
            "shopfloor.integration.user.default_get": (
                lambda env, s: env["shopfloor.integration.user"]
                .with_context(active_id=fx[s]["conn"].id)
                .default_get(["login", "connection_id"]),
                "action",
            ),
            "shopfloor.mapping.revision.action_compare": (
                lambda env, s: rec(env, s, "revision").action_compare(),
                "action",
            ),
            "shopfloor.mapping.revision.action_open_events": (
                lambda env, s: rec(env, s, "revision").action_open_events(),
                "action",
            ),
            "shopfloor.mapping.revision.action_restore": (
                lambda env, s: rec(env, s, "revision").action_restore(),
                "action",
            ),
            "shopfloor.mapping.revision.compare.read": (
                lambda env, s: self.revision_compare(env, s).read(["id"]),
                "action",
            ),
            "shopfloor.mapping.revision.compare.write": (
                lambda env, s: self.revision_compare(env, s).write({"to_revision_id": fx[s]["revision"].id}),
                "action",
            ),
            "shopfloor.mapping.revision.compare.create": (
                lambda env, s: env["shopfloor.mapping.revision.compare"].create(
                    {"from_revision_id": fx[s]["revision"].id, "to_revision_id": fx[s]["revision"].id}
                ),
                "action",
            ),
            "shopfloor.mapping.revision.compare.unlink": (
                lambda env, s: self.revision_compare(env, s).unlink(),
                "action",
            ),
            "shopfloor.mapping.revision.compare.action_restore_from": (
                lambda env, s: self.revision_compare(env, s).action_restore_from(),
                "action",
            ),
            "shopfloor.mapping.revision.compare.action_swap": (
                lambda env, s: self.revision_compare(env, s).action_swap(),
                "action",
            ),
            "shopfloor.mapping.test.action_run": (lambda env, s: self.wizard(env, s).action_run(), "action"),
            "shopfloor.mapping.test.default_get": (
                lambda env, s: env["shopfloor.mapping.test"].default_get(["payload"]),
                "action",
            ),
            "shopfloor.oee.report.compute_oee": (
                lambda env, s: env["shopfloor.oee.report"].compute_oee(fx[s]["wc"].ids, day, day),
                lambda answer: "+" if answer else "0",
            ),
            "shopfloor.oee.report.compute_standard_oee": (
                lambda env, s: env["shopfloor.oee.report"].compute_standard_oee(fx[s]["wc"].ids, day, day),
                lambda answer: "+" if answer else "0",
            ),
            "shopfloor.oee.report.action_open_time_logs": (
                lambda env, s: rec(env, s, "oee_row").action_open_time_logs(),
                "action",
            ),
            "shopfloor.oee.report.action_open_count_events": (
                lambda env, s: rec(env, s, "oee_row").action_open_count_events(),
                "action",
            ),
            "shopfloor.oee.report.read_group": (
                lambda env, s: env["shopfloor.oee.report"].read_group(
                    [("workcenter_id", "=", fx[s]["wc"].id)], ["oee"], ["workcenter_id"]
                ),
                lambda answer: "+" if answer else "0",
            ),
        }

    def protected_writes(self):
        """``model.write:field`` rows: field → the value a plain write tries."""
        return {
            "mrp.production.write:shopfloor_cost_flagged": ("mo", {"shopfloor_cost_flagged": True}),
            "mrp.production.write:shopfloor_closed_by_id": ("mo", {"shopfloor_closed_by_id": 1}),
            "mrp.workorder.write:shopfloor_qty_scrap": ("wo", {"shopfloor_qty_scrap": 99.0}),
            "mrp.workorder.write:shopfloor_floor_driven": ("wo", {"shopfloor_floor_driven": True}),
            "mrp.workcenter.write:shopfloor_dispatch_version": ("wc", {"shopfloor_dispatch_version": 999}),
            "shopfloor.connection.write:company_id": ("conn", {"company_id": "other"}),
            "shopfloor.dispatch.write:payload_json": ("msg_sent", {"payload_json": '{"queue": []}'}),
            "shopfloor.dispatch.write:state": ("msg_sent", {"state": "acked"}),
            "shopfloor.dispatch.write:target_id": ("msg_sent", {"target_id": "other_target"}),
            "shopfloor.dispatch.target.write:company_id": ("target", {"company_id": "other"}),
            "shopfloor.event.write:state": ("event", {"state": "applied"}),
            "shopfloor.event.write:company_id": ("event", {"company_id": "other"}),
            "shopfloor.count.correction.write:floor_total": ("count_correction", {"floor_total": 0.0}),
            "shopfloor.hold.write:state": ("hold", {"state": "released"}),
            "shopfloor.http.producer.write:token_sha256": ("producer", {"token_sha256": "0" * 64}),
            "shopfloor.source.map.write:company_id": ("source_map", {"company_id": "other"}),
        }

    def all_calls(self):
        calls = {}
        for model, (key, write_vals, create_vals, unlink_key) in self.crud_specs().items():
            calls[f"{model}.read"] = (lambda env, s, k=key: self.rec(env, s, k).read(["id"]), "action")
            calls[f"{model}.write"] = (lambda env, s, k=key, v=write_vals: self.rec(env, s, k).write(dict(v)), "action")
            calls[f"{model}.create"] = (lambda env, s, m=model, c=create_vals: env[m].create(c(s)), "action")
            calls[f"{model}.unlink"] = (lambda env, s, k=unlink_key: self.rec(env, s, k).unlink(), "action")
        for wizard_model in ("shopfloor.mapping.test", "shopfloor.integration.user"):
            calls[f"{wizard_model}.read"] = (
                lambda env, s, m=wizard_model: self.wizard(env, s, m).read(["id"]),
                "action",
            )
            calls[f"{wizard_model}.write"] = (
                lambda env, s, m=wizard_model: self.wizard(env, s, m).write({"connection_id": self.fx[s]["conn"].id}),
                "action",
            )
            calls[f"{wizard_model}.create"] = (
                lambda env, s, m=wizard_model: env[m].create({"connection_id": self.fx[s]["conn"].id}),
                "action",
            )
            calls[f"{wizard_model}.unlink"] = (lambda env, s, m=wizard_model: self.wizard(env, s, m).unlink(), "action")
        others = {"A": "B", "B": "A"}
        for row, (key, values) in self.protected_writes().items():

            def write(env, side, key=key, values=values):
                other = self.fx[others[side]]
                resolved = {
                    name: (
                        other["company"].id
                        if value == "other" and name == "company_id"
                        else self.fx[side]["target"].id
                        if value == "other_target"
                        else value
                    )
                    for name, value in values.items()
                }
                if "target_id" in resolved:
                    # Another target of the same company: what a payload would be redirected to.
                    resolved["target_id"] = (
                        self.env["shopfloor.dispatch.target"]
                        .create(
                            {
                                "connection_id": self.fx[side]["conn"].id,
                                "workcenter_id": self.fx[side]["spare_wc"].id,
                                "kind": "mqtt",
                                "mqtt_topic": "elsewhere",
                            }
                        )
                        .id
                    )
                return self.rec(env, side, key).write(resolved)

            calls[row] = (write, "action")
        calls.update(self.method_calls())
        return calls

    # -- running ----------------------------------------------------------------

    def outcome(self, role, row, side, call, kind):
        """(symbol, message) of one call, rolled back whatever it did."""
        env = self.env(user=self.users[role].id, su=False)
        try:
            with self.env.cr.savepoint():
                answer = call(env, side)
                env.flush_all()
                raise _Rollback(answer)
        except _Rollback as done:
            answer = done.args[0]
        except AccessError as error:
            return "-", str(error)
        except ShopfloorRpcError as error:
            if error.code == "not_found":
                return "n", str(error)
            return "!", f"{error.code}: {error}"
        except Exception as error:  # noqa: BLE001 (reported in the table as what it is)
            return "!", f"{type(error).__name__}: {error}"
        finally:
            self.env.invalidate_all()
        if callable(kind):
            result = kind(answer)
            return result if isinstance(result, tuple) else (result, "")
        if kind == "query" and side == "B":
            return ("+" if B_MARK in json.dumps(answer, default=str) else "0"), ""
        return "+", ""

    def test_matrix_lists_every_model_and_method(self):
        """A public method or model the table does not list fails here (and every row names a real one)."""
        table = parse_matrix(MATRIX)
        surface = module_surface(self.env)
        listed = {row.split(":")[0] for row in table}
        missing = sorted(
            f"{model}.{name}" for model, names in surface.items() for name in names if f"{model}.{name}" not in listed
        )
        self.assertEqual(missing, [], "public methods/models of the module not in MATRIX: declare who may call them")
        known = {f"{model}.{name}" for model, names in surface.items() for name in names}
        stale = sorted(row for row in listed if row not in known)
        self.assertEqual(stale, [], "MATRIX rows naming no model/method of the module")
        no_call = sorted(row for row in table if row not in self.all_calls())
        self.assertEqual(no_call, [], "MATRIX rows the test does not know how to call")

    def test_outcomes_match_the_matrix(self):
        table = parse_matrix(MATRIX)
        calls = self.all_calls()
        differences, unnamed, observed = [], [], {}
        for row in table:
            if row not in calls:
                continue
            call, kind = calls[row]
            cells = {}
            for role in ROLES:
                results = [self.outcome(role, row, side, call, kind) for side in "AB"]
                cells[role] = "".join(symbol for symbol, _message in results)
                for side, (symbol, message) in zip("AB", results, strict=True):
                    if symbol in "-rn":
                        reason = self._refusal_reason(table, row, role, side, cells[role])
                        if not self._names(reason, row, message):
                            unnamed.append(
                                f"{row} as {role} on {side}: the refusal does not name the {reason}: "
                                f"{message[:300]!r}"
                            )
                    elif symbol == "!":
                        unnamed.append(f"{row} as {role} on {side}: not an access outcome: {message[:300]}")
            observed[row] = cells
            for role in ROLES:
                if cells[role] != table[row][role]:
                    differences.append(f"{row} as {role}: expected {table[row][role]}, got {cells[role]}")
        if differences or unnamed:
            width = max(len(row) for row in observed)
            lines = ["observed:", " ".join(["model.method".ljust(width), *ROLES])]
            lines += [
                " ".join([row.ljust(width), *(observed[row][role].ljust(len(role)) for role in ROLES)])
                for row in observed
            ]
            _logger.info("\n".join(lines + ["", *differences, "", *unnamed]))
        self.assertEqual(differences, [], "outcomes differ from MATRIX")
        self.assertEqual(unnamed, [], "refusals that do not say what is missing")

    @staticmethod
    def _refusal_reason(table, row, role, side, cell):
        expected = table[row][role]
        if ":" in row:
            return "field"
        if row in SIDECAR_API:
            return "connection"
        if side == "B" and expected[0] in "+0r":
            return "company"
        return "group"

    @staticmethod
    def _names(reason, row, message):
        if reason == "field":
            # Named by the field guard, or refused to every group by the model's ACL.
            return row.split(":")[1] in message or bool(re.search(MISSING_PATTERNS["group"], message))
        if row.endswith((".write", ".create")) and FIELD_GUARD_TEXT in message:
            # Every field the row writes is one only audited actions change (field_guard names them).
            return True
        return bool(re.search(MISSING_PATTERNS[reason], message))
