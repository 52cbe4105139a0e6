// The `sparkplug-payload` npm package (Eclipse Tahu's JavaScript codec), which
// the sidecar decoded with before it had its own decoder: a second, independent
// encoder for tests and the baseline of the protocols bench.
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const codec = (require("sparkplug-payload") as typeof import("sparkplug-payload")).get("spBv1.0");
if (!codec) throw new Error("sparkplug-payload does not provide spBv1.0");

export const rawCodec = codec;
/** The package's protobuf classes, to encode field by field what other edges send. */
export const proto = require("sparkplug-payload/lib/sparkplugPayloadProto.js").org.eclipse.tahu.protobuf;
