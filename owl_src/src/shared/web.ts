// The one door to Odoo's web client. Components import Odoo's runtime from
// here so unit tests (jsdom, where @web/* does not exist) can swap this
// module for owl_src/test/support/fake_web.ts with a single vi.mock.
export { Dialog } from "@web/core/dialog/dialog";
export { useHotkey } from "@web/core/hotkeys/hotkey_hook";
export { deserializeDateTime, formatDateTime } from "@web/core/l10n/dates";
export { _t } from "@web/core/l10n/translation";
export { registry } from "@web/core/registry";
export { user } from "@web/core/user";
export { useBus, useService } from "@web/core/utils/hooks";
export { formatFloat, formatInteger } from "@web/views/fields/formatters";
export { standardFieldProps } from "@web/views/fields/standard_field_props";
export { standardWidgetProps } from "@web/views/widgets/standard_widget_props";
export { standardActionServiceProps } from "@web/webclient/actions/action_service";

/** Channel-free notification type sent by models/shopfloor_dashboard.py. */
export const EVENTS_CHANGED = "shopfloor_bridge/events_changed";
export const MANAGER_GROUP = "shopfloor_bridge.shopfloor_bridge_group_manager";
