"""User-facing text of the Odoo module goes through Odoo's translation.

pylint-odoo's ``translation-required`` (on in .pylintrc-mandatory) sees only
``raise UserError("literal")`` and ``message_post(body="literal")``. This check
adds what it leaves out, the Odoo 18 way (``_()`` or ``self.env._()``):

- the message of an Odoo exception (UserError, ValidationError, AccessError,
  ...) given as an f-string, a concatenation, a ``%`` or ``.format()`` of a
  literal, or a local variable assigned such text;
- ``message_post`` body and subject, ``activity_schedule`` summary and note,
  in those forms;
- the title and message of a ``display_notification`` client action, and the
  name of a window action, written as a dict literal;
- a translation call whose text is not one literal (``_(f"...")``,
  ``_("a" + b)``): Odoo's exporter extracts only literals, so such text is
  never translated.

Field strings, help texts and selection labels are translated by Odoo itself
and are not checked. Usage: check_translations.py FILE_OR_DIR... (exit 1 and
one line per finding when something is untranslated).
"""

import ast
import sys
from pathlib import Path

ODOO_EXCEPTIONS = {
    "AccessDenied",
    "AccessError",
    "MissingError",
    "RedirectWarning",
    "UserError",
    "ValidationError",
}
TRANSLATION_FUNCTIONS = {"_", "_lt"}
# The arguments of chatter and activity calls that a person reads.
SHOWN_KEYWORDS = {"message_post": ("body", "subject"), "activity_schedule": ("summary", "note")}


def is_translation_call(node):
    """``_(...)``, ``_lt(...)``, ``self.env._(...)``, ``env._(...)``."""
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    if isinstance(func, ast.Name):
        return func.id in TRANSLATION_FUNCTIONS
    return isinstance(func, ast.Attribute) and func.attr == "_"


def is_text(node):
    """A literal text, or text built from one: the forms that need ``_()``."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str) and any(char.isalpha() for char in node.value)
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(part, ast.Constant) and any(c.isalpha() for c in part.value) for part in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod | ast.Add):
        return is_text(node.left) or (isinstance(node.op, ast.Add) and is_text(node.right))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
        return is_text(node.func.value)
    return False


def call_name(node):
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def dict_items(node):
    return {
        key.value: value
        for key, value in zip(node.keys, node.values, strict=True)
        if isinstance(key, ast.Constant) and isinstance(key.value, str)
    }


class Checker(ast.NodeVisitor):
    def __init__(self, path):
        self.path = path
        self.findings = []
        self.functions = []

    def report(self, node, message):
        self.findings.append(f"{self.path}:{node.lineno}: {message}")

    def untranslated(self, node):
        """True when ``node`` is text that did not go through a translation call."""
        if is_translation_call(node):
            return False
        if is_text(node):
            return True
        if isinstance(node, ast.Name) and self.functions:
            return any(is_text(value) for value in self.assignments(self.functions[-1], node.id))
        return False

    @staticmethod
    def assignments(function, name):
        for node in ast.walk(function):
            if isinstance(node, ast.Assign):
                if any(isinstance(target, ast.Name) and target.id == name for target in node.targets):
                    yield node.value
            elif isinstance(node, ast.AnnAssign | ast.AugAssign) and node.value is not None:
                if isinstance(node.target, ast.Name) and node.target.id == name:
                    yield node.value

    def visit_FunctionDef(self, node):
        self.functions.append(node)
        self.generic_visit(node)
        self.functions.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Raise(self, node):
        exc = node.exc
        if isinstance(exc, ast.Call) and call_name(exc) in ODOO_EXCEPTIONS:
            message = exc.args[0] if exc.args else next((kw.value for kw in exc.keywords if kw.arg == "message"), None)
            if message is not None and self.untranslated(message):
                self.report(
                    node, f"the message of {call_name(exc)} is shown to the user: wrap it in _() / self.env._()"
                )
        self.generic_visit(node)

    def visit_Call(self, node):
        name = call_name(node)
        if name in SHOWN_KEYWORDS:
            arguments = [("body", arg) for arg in node.args[:1]] if name == "message_post" else []
            arguments += [(kw.arg, kw.value) for kw in node.keywords if kw.arg in SHOWN_KEYWORDS[name]]
            for keyword, value in arguments:
                if self.untranslated(value):
                    self.report(node, f"{name} {keyword} is shown to the user: wrap it in _() / self.env._()")
        elif is_translation_call(node) and node.args:
            text = node.args[0]
            if not (isinstance(text, ast.Constant) and isinstance(text.value, str)):
                self.report(
                    node,
                    f"{name}() needs one literal text (Odoo extracts only literals); "
                    "put values in as %s or %(name)s arguments",
                )
        self.generic_visit(node)

    def visit_Dict(self, node):
        items = dict_items(node)
        kind = items.get("tag") if "tag" in items else items.get("type")
        kind = kind.value if isinstance(kind, ast.Constant) else None
        if kind == "display_notification" and isinstance(items.get("params"), ast.Dict):
            params = dict_items(items["params"])
            for key in ("title", "message"):
                if key in params and self.untranslated(params[key]):
                    self.report(params[key], f"the notification {key} is shown to the user: wrap it in _()")
        elif kind == "ir.actions.act_window" and "name" in items and self.untranslated(items["name"]):
            self.report(items["name"], "the window action name is the title of its screen: wrap it in _()")
        self.generic_visit(node)


def python_files(paths):
    for path in map(Path, paths):
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*.py") if "tests" not in p.relative_to(path).parts)
        else:
            yield path


def main(argv):
    findings = []
    for path in python_files(argv):
        checker = Checker(path)
        checker.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        findings += checker.findings
    for finding in findings:
        print(finding)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
