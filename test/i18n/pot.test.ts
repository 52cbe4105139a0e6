// The POT helpers of tools/i18n/pot.ts: what counts as a term, what is
// normalised away. The export itself is checked in pot.int.test.ts.
import { describe, expect, it } from "vitest";
import { hiddenTranslationCalls, msgids, normalisePot } from "../../tools/i18n/pot.ts";

const HEADER = `msgid ""
msgstr ""
"Project-Id-Version: Odoo Server 18.0\\n"
"POT-Creation-Date: 2026-12-01 22:30+0000\\n"
"PO-Revision-Date: 2026-12-01 22:30+0000\\n"
"Content-Type: text/plain; charset=UTF-8\\n"
`;

describe("normalisePot", () => {
  it("blanks the two dates of the run and nothing else", () => {
    const text = `${HEADER}\n#: code:addons/x/a.py:0\nmsgid "POT-Creation-Date: 2020"\nmsgstr ""\n`;
    const out = normalisePot(text);
    expect(out).toContain('"POT-Creation-Date: \\n"');
    expect(out).toContain('"PO-Revision-Date: \\n"');
    expect(out).toContain('"Project-Id-Version: Odoo Server 18.0\\n"');
    expect(out).toContain('msgid "POT-Creation-Date: 2020"');
    expect(normalisePot(out)).toBe(out);
  });
});

describe("msgids", () => {
  it("reads one-line and wrapped msgids, with escapes, and leaves the header out", () => {
    const text = `${HEADER}
#: code:addons/x/a.py:0
msgid "Retry"
msgstr ""

#: code:addons/x/b.py:0
msgid ""
"Event %s is already applied; "
"it cannot be \\"edited\\"."
msgstr ""
`;
    expect([...msgids(text)]).toEqual(["Retry", 'Event %s is already applied; it cannot be "edited".']);
  });
});

describe("hiddenTranslationCalls", () => {
  it("names _t imported under another name, and indirect calls, which Odoo's exporter cannot see", () => {
    const bundle = [
      'import { _t } from "@web/core/l10n/translation";',
      'import { _t as _t2 } from "@web/core/l10n/translation";',
      'import { useService, _t as $t } from "@web/core/l10n/translation";',
      'const a = _t("Seen");',
      'const b = _t2("Hidden"), c = _t2("Hidden too"), d = x._t2("not a call of it");',
      'const e = $t("Hidden as well"), f = (0, _t)("Indirect");',
    ].join("\n");
    expect(hiddenTranslationCalls(bundle)).toEqual([
      "import { _t as _t2 }: 2 call(s) _t2(…)",
      "import { _t as $t }: 1 call(s) $t(…)",
      "1 call(s) (0, _t)(…)",
    ]);
  });

  it("passes a bundle that calls _t by its name only", () => {
    const bundle = 'import { _t } from "@web/core/l10n/translation";\nconst a = _t("Seen"), b = ns._t("Seen too");';
    expect(hiddenTranslationCalls(bundle)).toEqual([]);
  });
});
