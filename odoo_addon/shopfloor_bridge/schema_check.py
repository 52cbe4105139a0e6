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
        for keyword in schema:
            if keyword not in ANNOTATIONS and keyword not in ("then", "else") and keyword not in _COMPILERS:
                raise Unsupported(keyword)
        text = self._text(schema)
        if text is not None:
            return text
        checks = []
        for keyword, value in schema.items():
            if keyword in ANNOTATIONS or keyword in ("then", "else"):
                continue
            checks.append(_COMPILERS[keyword](self, value, schema))
        return _all(checks)

    @staticmethod
    def _text(schema):
        """A text or a number between bounds in one test: ``{"type": "string",
        "minLength": m, "maxLength": n}``, ``{"type": "number", "minimum": m, "maximum": n}``
        (either bound optional)."""
        if schema.get("type") == "number" and not set(schema) - ANNOTATIONS - {"type", "minimum", "maximum"}:
            low = schema.get("minimum", float("-inf"))
            high = schema.get("maximum", float("inf"))
            return lambda value: _is_number(value) and not value < low and not value > high
        if schema.get("type") != "string" or set(schema) - ANNOTATIONS - {"type", "minLength", "maxLength"}:
            return None
        shortest = schema.get("minLength", 0)
        longest = schema.get("maxLength")
        if longest is None:
            return lambda value: isinstance(value, str) and len(value) >= shortest
        return lambda value: isinstance(value, str) and shortest <= len(value) <= longest

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
        if len(tests) == 1:
            return tests[0]
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
        names = frozenset(names)
        return lambda value: not isinstance(value, dict) or value.keys() >= names

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

        def check(value):
            if isinstance(value, dict):
                for name in value:
                    if not one(name):
                        return False
            return True

        return check

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

    def items(self, subschema, _schema):
        one = self.compile(subschema)
        return lambda value: not isinstance(value, list) or all(one(item) for item in value)

    def min_items(self, limit, _schema):
        return lambda value: not isinstance(value, list) or len(value) >= limit

    def max_items(self, limit, _schema):
        return lambda value: not isinstance(value, list) or len(value) <= limit

    def unique_items(self, unique, schema):
        if not unique:
            return lambda _value: True
        # Equality of texts is plain; jsonschema's of other values (1 == 1.0, True != 1) is not
        # compiled: only arrays whose items must be texts (a serial list) are.
        items = schema.get("items")
        if not isinstance(items, dict) or items.get("type") != "string":
            raise Unsupported("uniqueItems on items that may be other than texts")
        return (
            lambda value: not isinstance(value, list)
            or len(set(value)) == len(value)
            or not all(isinstance(item, str) for item in value)
        )

    def all_of(self, subschemas, _schema):
        branches = self._branches_by_const(subschemas)
        if branches is None:
            return _all([self.compile(sub) for sub in subschemas])
        # One branch per value of a property (the event schema's per-type data):
        # only the branches whose ``if`` can hold are looked at.
        name, by_value = branches
        checks = {value: _all([self.compile(then) for then in thens]) for value, thens in by_value.items()}
        every = _all([self.compile(sub) for sub in subschemas])

        def check(value):
            if not isinstance(value, dict):
                return every(value)  # no ``if`` looks at a non-object: all hold, every ``then`` applies
            key = value.get(name)
            if not isinstance(key, str):
                return True
            one = checks.get(key)
            return one is None or one(value)

        return check

    @staticmethod
    def _branches_by_const(subschemas):
        """``(name, {value: [then, …]})`` when every item is ``{"if": {"properties": {name:
        {"const": text}}, "required": [name]}, "then": …}`` and nothing else, else None."""
        name = None
        by_value = {}
        for sub in subschemas:
            if not isinstance(sub, dict) or set(sub) != {"if", "then"}:
                return None
            condition = sub["if"]
            if not isinstance(condition, dict) or set(condition) != {"properties", "required"}:
                return None
            properties = condition["properties"]
            if not isinstance(properties, dict) or len(properties) != 1:
                return None
            ((key, test),) = properties.items()
            if condition["required"] != [key] or name not in (None, key):
                return None
            if not isinstance(test, dict) or set(test) != {"const"} or not isinstance(test["const"], str):
                return None
            name = key
            by_value.setdefault(test["const"], []).append(sub["then"])
        return (name, by_value) if name is not None else None

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
    "items": _Compiler.items,
    "minItems": _Compiler.min_items,
    "maxItems": _Compiler.max_items,
    "uniqueItems": _Compiler.unique_items,
}
