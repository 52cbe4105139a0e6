"""A JSON Schema turned once into plain Python checks that answer valid or not.

jsonschema walks the schema object by object for every instance: for the
event schema (16 ``if``/``then`` branches, one per type) that is most of what
storing an event costs. ``compile_schema`` does that walk once, into nested
closures, with jsonschema's meaning of each keyword for draft 2020-12 without
a format checker (``format`` is an annotation, as ``event_validation`` builds
its validator). The compiled check only says whether an instance is valid:
the message of an invalid one still comes from jsonschema, so every message
stays as it was.

Only the keywords in ``_COMPILERS`` and ``ANNOTATIONS`` are compiled; a schema
using any other (or a ``$ref`` beside other keywords, a remote ``$ref``, a
non-text ``const``/``enum``) gives None, and the caller lets jsonschema do all.
"""

import numbers
import re

# Keywords that never fail an instance.
ANNOTATIONS = frozenset(
    {"$schema", "$id", "$comment", "$defs", "title", "description", "format", "examples", "default"}
)


def _is_number(value):
    return not isinstance(value, bool) and isinstance(value, numbers.Number)


def _is_integer(value):
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


TYPES = {
    "string": lambda value: isinstance(value, str),
    "number": _is_number,
    "integer": _is_integer,
    "boolean": lambda value: isinstance(value, bool),
    "null": lambda value: value is None,
    "object": lambda value: isinstance(value, dict),
    "array": lambda value: isinstance(value, list),
}


class Unsupported(Exception):
    """The schema uses something the compiler does not know: jsonschema checks it."""


def compile_schema(schema):
    """``check(instance) -> bool`` for ``schema``, or None when it uses what is not compiled."""
    try:
        return _Compiler(schema).compile(schema)
    except Unsupported:
        return None


def _all(checks):
    if not checks:
        return lambda _value: True
    if len(checks) == 1:
        return checks[0]

    def check(value):
        for one in checks:
            if not one(value):
                return False
        return True

    return check


def _texts(values, keyword):
    if not all(isinstance(value, str) for value in values):
        raise Unsupported(f"{keyword} with a value that is not text")
    return values


class _Compiler:
    def __init__(self, root):
        self.root = root
        self.refs = {}

    def compile(self, schema):
        if schema is True:
            return lambda _value: True
        if schema is False:
            return lambda _value: False
        if not isinstance(schema, dict):
            raise Unsupported("a schema that is not an object or a boolean")
        if "$ref" in schema and set(schema) - ANNOTATIONS - {"$ref"}:
            raise Unsupported("$ref beside other keywords")
        if "else" in schema and "if" not in schema or "then" in schema and "if" not in schema:
            raise Unsupported("then/else without if")
        if "patternProperties" in schema:
            raise Unsupported("patternProperties")
        checks = []
        for keyword, value in schema.items():
            if keyword in ANNOTATIONS or keyword in ("then", "else"):
                continue
            compiler = _COMPILERS.get(keyword)
            if compiler is None:
                raise Unsupported(keyword)
            checks.append(compiler(self, value, schema))
        return _all(checks)

    def ref(self, pointer, _schema):
        if not isinstance(pointer, str) or not pointer.startswith("#"):
            raise Unsupported(f"$ref {pointer!r}")
        if pointer not in self.refs:
            # Set before compiling: a schema that refers to itself gets the same check.
            cell = []
            self.refs[pointer] = lambda value: cell[0](value)
            cell.append(self.compile(self._resolve(pointer)))
        return self.refs[pointer]

    def _resolve(self, pointer):
        target = self.root
        for part in pointer[1:].split("/")[1:] if pointer != "#" else ():
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, dict) or part not in target:
                raise Unsupported(f"$ref {pointer!r} names nothing")
            target = target[part]
        return target

    def type(self, names, _schema):
        names = [names] if isinstance(names, str) else names
        if not isinstance(names, list) or any(name not in TYPES for name in names):
            raise Unsupported(f"type {names!r}")
        tests = [TYPES[name] for name in names]
        return lambda value: any(test(value) for test in tests)

    def const(self, expected, _schema):
        (expected,) = _texts([expected], "const")
        return lambda value: isinstance(value, str) and value == expected

    def enum(self, values, _schema):
        if not isinstance(values, list):
            raise Unsupported("enum that is not a list")
        allowed = frozenset(_texts(values, "enum"))
        return lambda value: isinstance(value, str) and value in allowed

    def required(self, names, _schema):
        names = tuple(names)
        return lambda value: not isinstance(value, dict) or all(name in value for name in names)

    def properties(self, subschemas, _schema):
        checks = tuple((name, self.compile(sub)) for name, sub in subschemas.items())

        def check(value):
            if isinstance(value, dict):
                for name, one in checks:
                    if name in value and not one(value[name]):
                        return False
            return True

        return check

    def additional_properties(self, subschema, schema):
        known = frozenset(schema.get("properties", {}))
        if subschema is True:
            return lambda _value: True
        one = self.compile(subschema)

        def check(value):
            if isinstance(value, dict):
                for name, item in value.items():
                    if name not in known and not one(item):
                        return False
            return True

        return check

    def property_names(self, subschema, _schema):
        one = self.compile(subschema)
        return lambda value: not isinstance(value, dict) or all(one(name) for name in value)

    def min_length(self, limit, _schema):
        return lambda value: not isinstance(value, str) or len(value) >= limit

    def max_length(self, limit, _schema):
        return lambda value: not isinstance(value, str) or len(value) <= limit

    def pattern(self, expression, _schema):
        search = re.compile(expression).search
        return lambda value: not isinstance(value, str) or search(value) is not None

    def minimum(self, limit, _schema):
        return lambda value: not _is_number(value) or not value < limit

    def maximum(self, limit, _schema):
        return lambda value: not _is_number(value) or not value > limit

    def exclusive_minimum(self, limit, _schema):
        return lambda value: not _is_number(value) or not value <= limit

    def exclusive_maximum(self, limit, _schema):
        return lambda value: not _is_number(value) or not value >= limit

    def all_of(self, subschemas, _schema):
        return _all([self.compile(sub) for sub in subschemas])

    def any_of(self, subschemas, _schema):
        checks = [self.compile(sub) for sub in subschemas]
        return lambda value: any(one(value) for one in checks)

    def one_of(self, subschemas, _schema):
        checks = [self.compile(sub) for sub in subschemas]
        return lambda value: sum(1 for one in checks if one(value)) == 1

    def if_(self, condition, schema):
        test = self.compile(condition)
        then = self.compile(schema.get("then", True))
        otherwise = self.compile(schema.get("else", True))
        return lambda value: then(value) if test(value) else otherwise(value)


_COMPILERS = {
    "$ref": _Compiler.ref,
    "type": _Compiler.type,
    "const": _Compiler.const,
    "enum": _Compiler.enum,
    "required": _Compiler.required,
    "properties": _Compiler.properties,
    "additionalProperties": _Compiler.additional_properties,
    "propertyNames": _Compiler.property_names,
    "minLength": _Compiler.min_length,
    "maxLength": _Compiler.max_length,
    "pattern": _Compiler.pattern,
    "minimum": _Compiler.minimum,
    "maximum": _Compiler.maximum,
    "exclusiveMinimum": _Compiler.exclusive_minimum,
    "exclusiveMaximum": _Compiler.exclusive_maximum,
    "allOf": _Compiler.all_of,
    "anyOf": _Compiler.any_of,
    "oneOf": _Compiler.one_of,
    "if": _Compiler.if_,
}
