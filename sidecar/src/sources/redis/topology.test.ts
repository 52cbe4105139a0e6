import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BackboneConfigError } from "../backbone-errors.ts";
import {
  isClusterUrl,
  isSentinelUrl,
  parseClusterUrl,
  parseSentinelUrl,
  sentinelLoginRefused,
  sentinelsText,
  unknownPrimary,
} from "./topology.ts";

describe("parseSentinelUrl", () => {
  it("reads the sentinels, the primary's name and the database", () => {
    expect(parseSentinelUrl("redis+sentinel://s1:26380,s2,[::1]:26381/mymaster/3")).toEqual({
      sentinels: [
        { host: "s1", port: 26380 },
        { host: "s2", port: 26379 },
        { host: "::1", port: 26381 },
      ],
      name: "mymaster",
      db: 3,
    });
    expect(parseSentinelUrl("REDIS+SENTINEL://10.0.0.5/plant%20one/")).toEqual({
      sentinels: [{ host: "10.0.0.5", port: 26379 }],
      name: "plant one",
      db: 0,
    });
  });

  it("refuses what cannot work, naming backbone_url and the reason", () => {
    const cases: [string, RegExp][] = [
      ["redis+sentinel://s1:26379", /the path names no primary/],
      ["redis+sentinel://s1:26379/", /the path names no primary/],
      ["redis+sentinel://s1:99999/m", /"s1:99999" is not a sentinel's host\[:port\]/],
      ["redis+sentinel://s1:26379,,s2/m", /"" is not a sentinel's host\[:port\]/],
      ["redis+sentinel://user:pw@s1/m", /holds a user or password/],
      ["redis+sentinel://s1/m/zero", /the database "zero" after the primary's name is not a number/],
      ["redis+sentinel://s1/m/0/extra", /not a Sentinel URL/],
      ["redis+sentinel://s1/%E0%A4%A", /is not valid percent-encoding/],
    ];
    for (const [url, why] of cases) {
      let thrown: unknown;
      try {
        parseSentinelUrl(url);
      } catch (err) {
        thrown = err;
      }
      expect(thrown, url).toBeInstanceOf(BackboneConfigError);
      expect((thrown as BackboneConfigError).field).toBe("backbone_url");
      expect((thrown as Error).message, url).toMatch(why);
    }
  });

  it("reads back any sentinel list, primary name and database it is given (fast-check)", () => {
    const host = fc.oneof(
      fc.domain(),
      fc.ipV4(),
      fc.ipV6().map((ip) => `[${ip}]`),
    );
    fc.assert(
      fc.property(
        fc.array(fc.record({ host, port: fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }) }), {
          minLength: 1,
          maxLength: 4,
        }),
        fc.string({ minLength: 1, unit: "grapheme" }),
        fc.option(fc.nat({ max: 15 }), { nil: undefined }),
        (sentinels, name, db) => {
          const hosts = sentinels.map((s) => (s.port === undefined ? s.host : `${s.host}:${s.port}`)).join(",");
          const url = `redis+sentinel://${hosts}/${encodeURIComponent(name)}${db === undefined ? "" : `/${db}`}`;
          expect(isSentinelUrl(url)).toBe(true);
          expect(parseSentinelUrl(url)).toEqual({
            sentinels: sentinels.map((s) => ({ host: s.host.replace(/^\[(.*)\]$/, "$1"), port: s.port ?? 26379 })),
            name,
            db: db ?? 0,
          });
        },
      ),
    );
  });

  it("tells Sentinel URLs from others", () => {
    expect(isSentinelUrl(" rediss+sentinel://s/m")).toBe(true);
    for (const url of ["redis://h:6379/0", "rediss://h/0", "sentinel://h/m", "redis+sentinelx://h/m"]) {
      expect(isSentinelUrl(url), url).toBe(false);
    }
  });
});

describe("unknownPrimary", () => {
  const target = parseSentinelUrl("redis+sentinel://s1:26379,s2:26380/line-primary");
  const url = "redis+sentinel://s1:26379,s2:26380/line-primary";

  it("names backbone_url when every sentinel answered and none knows the name", () => {
    for (const said of [
      "All sentinels are unreachable. Retrying from scratch after 200ms. Last error: ERR No such master with that name",
      "All sentinels are unreachable. Retrying from scratch after 200ms.",
    ]) {
      const err = unknownPrimary(new Error(said), url, target);
      expect(err?.field).toBe("backbone_url");
      expect(err?.message).toMatch(/the sentinels at s1:26379, s2:26380 know no primary named "line-primary"/);
    }
  });

  it("leaves sentinels that cannot be reached, and every other error, to the caller", () => {
    for (const said of [
      "All sentinels are unreachable. Retrying from scratch after 200ms. Last error: connect ECONNREFUSED 10.0.0.1:26379",
      "READONLY You can't write against a read only replica.",
    ]) {
      expect(unknownPrimary(new Error(said), url, target)).toBeUndefined();
    }
  });
});

describe("sentinelLoginRefused", () => {
  const url = "redis+sentinel://s1,[fd00::7]:26380/line-primary";
  const target = parseSentinelUrl(url);

  it("names backbone_password when the sentinels asked for a password or refused the one given", () => {
    for (const [said, answer] of [
      ["Last error: NOAUTH Authentication required.", "NOAUTH Authentication required."],
      [
        "Last error: WRONGPASS invalid username-password pair or user is disabled.",
        "WRONGPASS invalid username-password pair or user is disabled.",
      ],
    ]) {
      const err = sentinelLoginRefused(
        new Error(`All sentinels are unreachable. Retrying from scratch after 200ms. ${said}`),
        url,
        target,
      );
      expect(err?.field).toBe("backbone_password");
      expect(err?.message).toContain(
        `the sentinels at s1:26379, [fd00::7]:26380 (backbone_url ${url}) refused the connection (${answer})`,
      );
    }
  });

  it("leaves every other answer to the caller", () => {
    for (const said of [
      "All sentinels are unreachable. Retrying from scratch after 200ms. Last error: connect ECONNREFUSED 10.0.0.1:26379",
      "All sentinels are unreachable. Retrying from scratch after 200ms. Last error: ERR No such master with that name",
      "NOAUTH Authentication required.",
    ]) {
      expect(sentinelLoginRefused(new Error(said), url, target)).toBeUndefined();
    }
    expect(sentinelsText(target)).toBe("s1:26379, [fd00::7]:26380");
  });
});

describe("parseClusterUrl", () => {
  it("reads the start nodes, 6379 when no port is given", () => {
    expect(parseClusterUrl("redis+cluster://n1:7000,n2,[fd00::3]:7002/")).toEqual({
      nodes: [
        { host: "n1", port: 7000 },
        { host: "n2", port: 6379 },
        { host: "fd00::3", port: 7002 },
      ],
    });
    expect(parseClusterUrl("REDIS+CLUSTER://10.0.0.1/0").nodes).toEqual([{ host: "10.0.0.1", port: 6379 }]);
    expect(isClusterUrl(" redis+cluster://n1")).toBe(true);
    // Over TLS: the same nodes.
    expect(parseClusterUrl("rediss+cluster://n1:7000,n2")).toEqual({
      nodes: [
        { host: "n1", port: 7000 },
        { host: "n2", port: 6379 },
      ],
    });
    expect(isClusterUrl("redis://n1")).toBe(false);
  });

  it("refuses what cannot work, naming backbone_url and the reason", () => {
    const cases: [string, RegExp][] = [
      ["redis+cluster://n1/3", /database 0 only/],
      ["redis+cluster://n1:70000", /"n1:70000" is not a node's host\[:port\]/],
      ["redis+cluster://", /"" is not a node's host\[:port\]/],
      ["redis+cluster://u:p@n1", /holds a user or password/],
      ["redis+cluster://n1?x=1", /not a Cluster URL/],
    ];
    for (const [url, why] of cases) {
      let thrown: unknown;
      try {
        parseClusterUrl(url);
      } catch (err) {
        thrown = err;
      }
      expect(thrown, url).toBeInstanceOf(BackboneConfigError);
      expect((thrown as BackboneConfigError).field).toBe("backbone_url");
      expect((thrown as Error).message, url).toMatch(why);
    }
  });
});
