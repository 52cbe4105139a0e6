// Redis behind Sentinel: `redis+sentinel://host1:26379,host2:26379/<primary name>[/<db>]`.
// The sentinels are asked which server is the primary named in the path (the
// name of their `sentinel monitor <name> …`); the source connects to it, and
// after a failover to the one they promote. Pure: parsing and what Redis
// answers mean, no sockets.
import { BackboneConfigError } from "../backbone-errors.ts";

export const SENTINEL_SCHEME = "redis+sentinel:";
export const DEFAULT_SENTINEL_PORT = 26379;

export interface SentinelTarget {
  sentinels: { host: string; port: number }[];
  /** The primary's name as the sentinels monitor it. */
  name: string;
  db: number;
}

const EXAMPLE = "redis+sentinel://host1:26379,host2:26379/mymaster/0";

function refuse(url: string, why: string): BackboneConfigError {
  return new BackboneConfigError("backbone_url", `backbone_url ${JSON.stringify(url)}: ${why} (e.g. ${EXAMPLE})`);
}

/** Whether `url` names its server through Sentinel (`redis+sentinel://`, `rediss+sentinel://`). */
export function isSentinelUrl(url: string): boolean {
  return /^rediss?\+sentinel:/i.test(url.trim());
}

/**
 * The sentinels, primary name and database of a `redis+sentinel://` URL; a
 * BackboneConfigError naming backbone_url and what is wrong otherwise.
 */
export function parseSentinelUrl(url: string): SentinelTarget {
  const text = url.trim();
  if (/^rediss\+sentinel:/i.test(text)) {
    throw refuse(
      url,
      "TLS through Sentinel is not supported yet: use redis+sentinel:// on a trusted network, or rediss:// " +
        "naming the primary itself",
    );
  }
  const match = /^redis\+sentinel:\/\/([^/?#]*)(?:\/([^/?#]*))?(?:\/([^/?#]*))?\/?$/i.exec(text);
  if (!match) throw refuse(url, "not a Sentinel URL: the sentinels, then the primary's name, then the database");
  const [, hosts = "", rawName = "", rawDb] = match;
  if (hosts.includes("@")) {
    throw refuse(url, "the URL holds a user or password: put them in the user and password fields");
  }
  const sentinels = hosts.split(",").map((entry) => {
    const hostPort = /^(\[[0-9A-Fa-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(entry.trim());
    const port = hostPort?.[2] === undefined ? DEFAULT_SENTINEL_PORT : Number(hostPort[2]);
    if (!hostPort || port < 1 || port > 65535) {
      throw refuse(url, `${JSON.stringify(entry)} is not a sentinel's host[:port]`);
    }
    return { host: (hostPort[1] as string).replace(/^\[(.*)\]$/, "$1"), port };
  });
  let name: string;
  try {
    name = decodeURIComponent(rawName);
  } catch {
    throw refuse(url, `the primary's name ${JSON.stringify(rawName)} is not valid percent-encoding`);
  }
  if (!name) throw refuse(url, "the path names no primary: give the name the sentinels monitor it under");
  if (rawDb !== undefined && rawDb !== "" && !/^\d+$/.test(rawDb)) {
    throw refuse(url, `the database ${JSON.stringify(rawDb)} after the primary's name is not a number`);
  }
  return { sentinels, name, db: rawDb ? Number(rawDb) : 0 };
}

/**
 * Sentinels that answered but know no primary of that name: after asking each,
 * ioredis says "All sentinels are unreachable", with the last one's answer
 * (redis-server 7: "ERR No such master with that name") or, from a sentinel
 * answering nil, with no last error.
 */
export function unknownPrimary(err: Error, url: string, target: SentinelTarget): BackboneConfigError | undefined {
  const said = err.message;
  if (!/^All sentinels are unreachable/.test(said)) return undefined;
  if (/Last error:/.test(said) && !/Last error: ERR No such master with that name/.test(said)) return undefined;
  const where = target.sentinels.map((s) => `${s.host}:${s.port}`).join(", ");
  return new BackboneConfigError(
    "backbone_url",
    `the sentinels at ${where} know no primary named ${JSON.stringify(target.name)} (backbone_url ${url}): ` +
      "the path of the URL is the name of their 'sentinel monitor <name> …' (SENTINEL MASTERS lists them)",
    { cause: err },
  );
}
