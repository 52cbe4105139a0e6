// tools/lint/check_translations.py (run by `npm run lint`): each form of
// untranslated user-facing text it exists for is reported, and the Odoo 18
// forms that are translated are not.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { PYTHON, repoRoot } from "../../sidecar/devstack/odoo.ts";

const dir = mkdtempSync(join(tmpdir(), "sfb-translations-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function check(source: string): { code: number | null; findings: string[] } {
  const file = join(dir, "sample.py");
  writeFileSync(file, source);
  const run = spawnSync(PYTHON, [join(repoRoot, "tools/lint/check_translations.py"), file], { encoding: "utf8" });
  expect(run.stderr).toBe("");
  const findings = run.stdout
    .split("\n")
    .filter(Boolean)
    .map((line) => line.replace(`${file}:`, ""));
  return { code: run.status, findings };
}

describe("check_translations.py", () => {
  it("reports untranslated exception messages, however the text is built", () => {
    const { code, findings } = check(
      [
        "def a(self, order):",
        '    raise UserError(f"Order {order} is done")',
        "def b(self, order):",
        '    raise ValidationError("Order %s is done" % order)',
        "def c(self, order):",
        '    raise AccessError("Order {} is done".format(order))',
        "def d(self, order):",
        '    message = "Order " + order + " is done"',
        "    raise UserError(message)",
        "def e(self):",
        '    raise UserError(message="No order")',
      ].join("\n"),
    );
    expect(findings).toEqual([
      "2: the message of UserError is shown to the user: wrap it in _() / self.env._()",
      "4: the message of ValidationError is shown to the user: wrap it in _() / self.env._()",
      "6: the message of AccessError is shown to the user: wrap it in _() / self.env._()",
      "9: the message of UserError is shown to the user: wrap it in _() / self.env._()",
      "11: the message of UserError is shown to the user: wrap it in _() / self.env._()",
    ]);
    expect(code).toBe(1);
  });

  it("reports notifications, window titles, chatter posts, activities and _() of a non-literal", () => {
    const { findings } = check(
      [
        "def a(self, count):",
        "    return {",
        '        "type": "ir.actions.client",',
        '        "tag": "display_notification",',
        '        "params": {"title": "Done", "message": f"{count} events retried", "type": "success"},',
        "    }",
        "def b(self):",
        '    return {"type": "ir.actions.act_window", "name": "Dead letters", "res_model": "x"}',
        "def c(self, record):",
        '    record.message_post(body=f"Retried by {self.env.user.name}")',
        "def d(self, count):",
        '    return _(f"{count} events")',
        "def e(self, mo):",
        '    mo.activity_schedule("mail.mail_activity_data_todo", summary="Cost variance", note=_("Check %s", mo))',
      ].join("\n"),
    );
    expect(findings).toEqual([
      "5: the notification title is shown to the user: wrap it in _()",
      "5: the notification message is shown to the user: wrap it in _()",
      "8: the window action name is the title of its screen: wrap it in _()",
      "10: message_post body is shown to the user: wrap it in _() / self.env._()",
      "12: _() needs one literal text (Odoo extracts only literals); put values in as %s or %(name)s arguments",
      "14: activity_schedule summary is shown to the user: wrap it in _() / self.env._()",
    ]);
  });

  it("passes the translated forms and text that is not shown to a person", () => {
    const { code, findings } = check(
      [
        "def a(self, order):",
        '    raise UserError(_("Order %s is done", order))',
        "def b(self, order):",
        '    raise ValidationError(self.env._("Order %(order)s is done", order=order))',
        "def c(self, holds):",
        "    raise UserError(holds._blocking_message())",
        "def d(self, order):",
        '    message = _("Order %s is done", order)',
        "    raise UserError(message)",
        "def e(self, order):",
        '    raise ValueError(f"bad order {order}")',
        "def f(self, count):",
        '    return {"tag": "display_notification", "params": {"title": _("Done"), "type": "success"}}',
        "def g(self):",
        '    return {"type": "ir.actions.act_window", "name": self.env._("Dead letters")}',
      ].join("\n"),
    );
    expect(findings).toEqual([]);
    expect(code).toBe(0);
  });
});
