// The one door to Odoo's web client. Components import Odoo's runtime from
// here so unit tests (jsdom, where @web/* does not exist) can swap this
// module for testing/fake_web.ts with a single vi.mock.
export { _t } from "@web/core/l10n/translation";
export { registry } from "@web/core/registry";
export { useService } from "@web/core/utils/hooks";
