"""An OPC UA server built on asyncua (FreeOpcUa), for testing the sidecar's
OPC UA source and floor writer against a stack nobody on this project wrote.

    python asyncua_server.py SPEC.json

SPEC (JSON) says what to serve:
  port, host              where to listen (endpoint opc.tcp://host:port/asyncua/)
  pki                     folder: own/ (server key and certificate, made on first
                          start and kept), trusted/ (client certificates it
                          accepts), rejected/ (client certificates it refused)
  policies                asyncua SecurityPolicyType names, e.g. "NoSecurity",
                          "Basic256Sha256_SignAndEncrypt"
  client_trust            "any" (every client certificate), or "trusted": only
                          certificates in trusted/ (re-read on every session)
  anonymous               offer the anonymous login
  users                   {name: password} for user/password logins
  variables               [{node, type, value, time?, writable?, enum?}]:
                          node "ns=2;s=...", type an OPC UA built-in type name
                          (or "Enum": an Int32 of a custom enumeration type;
                          "Range": a standard structure, an ExtensionObject, value
                          {"low", "high"}; "T[]": a one-dimensional array of T;
                          "T[,]": a matrix of T, value {"dims": [...], "values":
                          [row-major]}), value its first value, time its source
                          timestamp. Guid, NodeId, QualifiedName ("2:Name"),
                          StatusCode (a name, e.g. "BadOutOfRange") and
                          XmlElement take text

Control, one JSON object per line on stdin, one answer per line on stdout:
  {"id": 1, "op": "set", "node": ..., "value": ..., "time": iso?, "status": name?}
      sets a variable from the server side (as a PLC would), with that source
      timestamp; the variable's access level does not apply
  {"id": 2, "op": "get", "node": ...}       the value and its variant type
  {"id": 3, "op": "sessions"}               the activated sessions' users
The first line on stdout is {"ready": true, "endpoint": ..., "certificate": ...}.
"""

import asyncio
import base64
import datetime
import json
import logging
import sys
import uuid
from pathlib import Path

from asyncua import Server, ua
from asyncua.common.structures104 import new_enum
from asyncua.common.utils import ServiceError
from asyncua.crypto.cert_gen import setup_self_signed_certificate
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.crypto.truststore import TrustStore
from asyncua.crypto.validator import CertificateValidator, CertificateValidatorOptions
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

APPLICATION_URI = "urn:shopfloor-bridge:test:asyncua-peer"
NAMESPACE_URI = "urn:shopfloor-bridge:test:asyncua-peer:tags"
ENUM_STATES = ["running", "idle", "down", "setup"]


def nested(values, dims):
    """A row-major flat list as nested lists of the given dimensions."""
    if len(dims) == 1:
        return list(values)
    size = len(values) // dims[0]
    return [nested(values[i * size : (i + 1) * size], dims[1:]) for i in range(dims[0])]


def variant(type_name, value):
    """A JSON value as a ua.Variant of the named built-in type (or array, matrix, structure)."""
    if type_name.endswith("[,]"):
        element = type_name[:-3]
        items = [scalar(element, item).Value for item in value["values"]]
        return ua.Variant(nested(items, value["dims"]), getattr(ua.VariantType, element), Dimensions=value["dims"])
    if type_name.endswith("[]"):
        element = type_name[:-2]
        items = [scalar(element, item).Value for item in value]
        return ua.Variant(items, getattr(ua.VariantType, element), is_array=True)
    if type_name == "Range":
        if value is None:
            return ua.Variant(None, ua.VariantType.ExtensionObject)
        return ua.Variant(ua.Range(Low=float(value["low"]), High=float(value["high"])))
    return scalar(type_name, value)


# Built-in types written as text in the spec, and how each is read from it.
FROM_TEXT = {
    "ByteString": base64.b64decode,
    "DateTime": lambda text: parse_time(text),
    "LocalizedText": ua.LocalizedText,
    "Guid": uuid.UUID,
    "NodeId": ua.NodeId.from_string,
    "QualifiedName": ua.QualifiedName.from_string,
    "StatusCode": lambda name: ua.StatusCode(getattr(ua.StatusCodes, name)),
    "XmlElement": ua.XmlElement,
}


def scalar(type_name, value):
    """A JSON value as a scalar ua.Variant of the named built-in type."""
    if type_name == "Enum":
        return ua.Variant(None if value is None else int(value), ua.VariantType.Int32)
    vtype = getattr(ua.VariantType, type_name)
    if value is None:
        return ua.Variant(None, vtype)
    if type_name in FROM_TEXT:
        return ua.Variant(FROM_TEXT[type_name](value), vtype)
    if type_name in ("Float", "Double"):
        return ua.Variant(float(value), vtype)
    if type_name in ("SByte", "Byte", "Int16", "UInt16", "Int32", "UInt32", "Int64", "UInt64"):
        return ua.Variant(int(value), vtype)
    if type_name == "Boolean":
        return ua.Variant(bool(value), vtype)
    return ua.Variant(value, vtype)


def plain(value):
    """A variant's value as JSON: bytes as base64, times as ISO text, text of a LocalizedText."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, ua.LocalizedText):
        return value.Text
    return value


def parse_time(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


class Users:
    """asyncua user manager: the spec's user/password pairs, anonymous when allowed, any trusted X.509 user."""

    def __init__(self, users, anonymous):
        self.users = users
        self.anonymous = anonymous
        self.activated = []

    def get_user(self, iserver, username=None, password=None, certificate=None):
        if username is not None:
            if self.users.get(username) != password:
                return None
            user = User(role=UserRole.User, name=username)
        elif certificate is not None:
            user = User(role=UserRole.User, name="x509")
        elif self.anonymous:
            user = User(role=UserRole.User, name="anonymous")
        else:
            return None
        self.activated.append(user.name)
        return user


class TrustedClients:
    """asyncua's own validator over trusted/, re-read for every session; a refused certificate lands in rejected/."""

    def __init__(self, pki):
        self.trusted = pki / "trusted"
        self.rejected = pki / "rejected"
        self.trusted.mkdir(parents=True, exist_ok=True)
        self.rejected.mkdir(parents=True, exist_ok=True)
        self.store = TrustStore([self.trusted], [])
        self.validator = CertificateValidator(
            CertificateValidatorOptions.TRUSTED | CertificateValidatorOptions.TIME_RANGE, self.store
        )

    async def __call__(self, certificate, app_description):
        try:
            if not any(self.trusted.iterdir()):
                # asyncua's TrustStore cannot be empty (ValueError): nothing trusted refuses everyone.
                raise ServiceError(ua.StatusCodes.BadCertificateUntrusted)
            await self.store.load()
            await self.validator(certificate, app_description)
        except ServiceError:
            name = certificate.fingerprint(certificate.signature_hash_algorithm).hex()[:16]
            (self.rejected / f"client-{name}.der").write_bytes(certificate.public_bytes(Encoding.DER))
            raise


async def main(spec_file):
    spec = json.loads(Path(spec_file).read_text())
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    pki = Path(spec["pki"])
    (pki / "own").mkdir(parents=True, exist_ok=True)
    key_file, cert_file = pki / "own" / "private_key.pem", pki / "own" / "certificate.der"
    await setup_self_signed_certificate(
        key_file,
        cert_file,
        APPLICATION_URI,
        spec["host"],
        [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH],
        {"commonName": "asyncua peer", "organizationName": "shopfloor-bridge tests"},
    )
    users = Users(spec.get("users", {}), spec.get("anonymous", True))
    server = Server(user_manager=users)
    await server.init()
    endpoint = f"opc.tcp://{spec['host']}:{spec['port']}/asyncua/"
    server.set_endpoint(endpoint)
    await server.set_application_uri(APPLICATION_URI)
    server.set_server_name("asyncua peer")
    await server.load_certificate(str(cert_file))
    await server.load_private_key(str(key_file))
    server.set_security_policy([getattr(ua.SecurityPolicyType, name) for name in spec["policies"]])
    tokens = [ua.UserNameIdentityToken, ua.X509IdentityToken]
    if spec.get("anonymous", True):
        tokens.insert(0, ua.AnonymousIdentityToken)
    server.set_identity_tokens(tokens)
    if spec.get("client_trust", "any") == "trusted":
        server.set_certificate_validator(TrustedClients(pki))

    idx = await server.register_namespace(NAMESPACE_URI)
    if idx != 2:
        raise SystemExit(f"tag namespace got index {idx}, the spec's node ids say 2")
    folder = await server.nodes.objects.add_folder(ua.NodeId("Tags", idx), ua.QualifiedName("Tags", idx))
    enum_type = None
    types = {}
    for var in spec["variables"]:
        node_id = ua.NodeId.from_string(var["node"])
        name = ua.QualifiedName(node_id.Identifier.split("/")[-1], idx)
        if var["type"] == "Enum":
            if enum_type is None:
                enum_type = await new_enum(server, idx, "MachineStateEnum", ENUM_STATES)
            node = await folder.add_variable(node_id, name, variant("Enum", var["value"]), datatype=enum_type.nodeid)
        else:
            value = variant(var["type"], var["value"])
            node = await folder.add_variable(node_id, name, value, varianttype=value.VariantType)
        if var.get("writable"):
            await node.set_writable(True)
        if var.get("time"):
            await set_value(server, node_id, var, var["value"], var["time"], None)
        types[var["node"]] = var

    await server.start()
    print(
        json.dumps({"ready": True, "endpoint": endpoint, "certificate": str(cert_file)}),
        flush=True,
    )
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    try:
        while line := await reader.readline():
            request = json.loads(line)
            try:
                answer = await control(server, users, types, request)
                print(json.dumps({"id": request.get("id"), "ok": True, **answer}), flush=True)
            except Exception as err:  # the test reads the reason
                print(json.dumps({"id": request.get("id"), "ok": False, "error": repr(err)}), flush=True)
    finally:
        await server.stop()


async def set_value(server, node_id, var, value, time, status):
    source_time = parse_time(time) if time else datetime.datetime.now(datetime.timezone.utc)
    data_value = ua.DataValue(
        variant(var["type"], value),
        StatusCode=ua.StatusCode(getattr(ua.StatusCodes, status or "Good")),
        SourceTimestamp=source_time,
        ServerTimestamp=datetime.datetime.now(datetime.timezone.utc),
    )
    await server.write_attribute_value(node_id, data_value)


async def control(server, users, types, request):
    op = request["op"]
    if op == "set":
        var = types[request["node"]]
        await set_value(
            server,
            ua.NodeId.from_string(request["node"]),
            var,
            request["value"],
            request.get("time"),
            request.get("status"),
        )
        return {}
    if op == "get":
        data_value = await server.get_node(request["node"]).read_data_value()
        return {"value": plain(data_value.Value.Value), "type": data_value.Value.VariantType.name}
    if op == "sessions":
        return {"users": users.activated}
    raise ValueError(f"unknown op {op}")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
