// Where the Redis source finds its server, beyond one address:
// - behind Sentinel, `redis+sentinel://host1:26379,host2:26379/<primary name>[/<db>]`:
//   the sentinels are asked which server is the primary named in the path (the
//   name of their `sentinel monitor <name> …`); the source connects to it, and
//   after a failover to the one they promote;
// - a Redis Cluster, `redis+cluster://host1:6379,host2:6379` (`rediss+cluster://`
//   over TLS): some of its nodes,
//   from which the client learns which node serves which slot, follows the
//   cluster's redirections and, after a failover, the promoted replica.
// Pure: parsing and what Redis answers mean, no sockets.
import { BackboneConfigError } from "../backbone-errors.ts";

export const DEFAULT_SENTINEL_PORT = 26379;
export const DEFAULT_REDIS_PORT = 6379;

export interface SentinelTarget {
  sentinels: { host: string; port: number }[];
  /** The primary's name as the sentinels monitor it. */
  name: string;
  db: number;
}

export interface ClusterTarget {
  /** The nodes to start from: the client learns the others from them. */
  nodes: { host: string; port: number }[];
}

const SENTINEL_EXAMPLE = "redis+sentinel://host1:26379,host2:26379/mymaster/0";
const CLUSTER_EXAMPLE = "redis+cluster://node1:6379,node2:6379";

function refuse(url: string, why: string, example = SENTINEL_EXAMPLE): BackboneConfigError {
  return new BackboneConfigError("backbone_url", `backbone_url ${JSON.stringify(url)}: ${why} (e.g. ${example})`);
}

/** `host[:port]` entries joined by commas, IPv6 in brackets; `what` names an entry in an error. */
function hostList(url: string, hosts: string, defaultPort: number, what: string, example: string) {
  if (hosts.includes("@")) {
    throw refuse(url, "the URL holds a user or password: put them in the user and password fields", example);
  }
  return hosts.split(",").map((entry) => {
    const hostPort = /^(\[[0-9A-Fa-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(entry.trim());
    const port = hostPort?.[2] === undefined ? defaultPort : Number(hostPort[2]);
    if (!hostPort || port < 1 || port > 65535) {
      throw refuse(url, `${JSON.stringify(entry)} is not a ${what}'s host[:port]`, example);
    }
    return { host: (hostPort[1] as string).replace(/^\[(.*)\]$/, "$1"), port };
  });
}

/** Whether `url` names a Redis Cluster's nodes (`redis+cluster://`, `rediss+cluster://`). */
export function isClusterUrl(url: string): boolean {
  return /^rediss?\+cluster:/i.test(url.trim());
}

/**
 * The start nodes of a `redis+cluster://` or `rediss+cluster://` URL; a BackboneConfigError naming
 * backbone_url and what is wrong otherwise. A cluster has database 0 only.
 */
export function parseClusterUrl(url: string): ClusterTarget {
  const text = url.trim();
  // rediss+cluster://: TLS to every node (wantsTls).
  const match = /^rediss?\+cluster:\/\/([^/?#]*)(\/[^?#]*)?$/i.exec(text);
  if (!match) throw refuse(url, "not a Cluster URL: some of the cluster's nodes, comma-separated", CLUSTER_EXAMPLE);
  const path = match[2] ?? "";
  if (path !== "" && path !== "/" && path !== "/0") {
    throw refuse(url, "a Redis Cluster has database 0 only: no path after the nodes", CLUSTER_EXAMPLE);
  }
  return { nodes: hostList(url, match[1] ?? "", DEFAULT_REDIS_PORT, "node", CLUSTER_EXAMPLE) };
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
  // rediss+sentinel://: TLS to the sentinels and to the primary (wantsTls).
  const match = /^rediss?\+sentinel:\/\/([^/?#]*)(?:\/([^/?#]*))?(?:\/([^/?#]*))?\/?$/i.exec(text);
  if (!match) throw refuse(url, "not a Sentinel URL: the sentinels, then the primary's name, then the database");
  const [, hosts = "", rawName = "", rawDb] = match;
  const sentinels = hostList(url, hosts, DEFAULT_SENTINEL_PORT, "sentinel", SENTINEL_EXAMPLE);
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
  const where = sentinelsText(target);
  return new BackboneConfigError(
    "backbone_url",
    `the sentinels at ${where} know no primary named ${JSON.stringify(target.name)} (backbone_url ${url}): ` +
      "the path of the URL is the name of their 'sentinel monitor <name> …' (SENTINEL MASTERS lists them)",
    { cause: err },
  );
}

/** The sentinels of a target as `host:port, host:port`, for messages. */
export function sentinelsText(target: SentinelTarget): string {
  return target.sentinels.map((s) => `${s.host.includes(":") ? `[${s.host}]` : s.host}:${s.port}`).join(", ");
}

/**
 * Sentinels that ask for a password (`requirepass` in sentinel.conf) the
 * client did not give them, or refuse the one it gave: after asking each,
 * ioredis says "All sentinels are unreachable" with the last one's NOAUTH or
 * WRONGPASS. Names backbone_password: the sentinels take the connection's.
 */
export function sentinelLoginRefused(err: Error, url: string, target: SentinelTarget): BackboneConfigError | undefined {
  const said = /^All sentinels are unreachable[\s\S]*Last error: ((?:NOAUTH|WRONGPASS)\b.*)$/.exec(err.message);
  if (!said) return undefined;
  return new BackboneConfigError(
    "backbone_password",
    `the sentinels at ${sentinelsText(target)} (backbone_url ${url}) refused the connection (${said[1]}): ` +
      "sentinels with a requirepass of their own take the connection's backbone_password (and backbone_username if they know that user)",
    { cause: err },
  );
}
