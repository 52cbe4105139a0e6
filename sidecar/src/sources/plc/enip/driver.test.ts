import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseEnipAddress } from "./address.ts";
import { MSP_PER_SERVICE, MSP_REPLY_OVERHEAD, multipleServiceRequest, readTagRequest } from "./cip.ts";
import { packReads } from "./driver.ts";

const name = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,39}$/);
const address = fc
  .tuple(
    name,
    fc.option(fc.integer({ min: 0, max: 0xffff_ffff }), { nil: undefined }),
    fc.option(name, { nil: undefined }),
  )
  .map(
    ([tag, index, member]) =>
      `${tag}${index === undefined ? "" : `[${index}]`}${member === undefined ? "" : `.${member}`}`,
  );

describe("packReads", () => {
  it("keeps the order, and every packet of more than one tag fits the connection, request and reply", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(address, fc.option(fc.integer({ min: 6, max: 300 }), { nil: undefined })), {
          maxLength: 400,
        }),
        fc.constantFrom(504, 4002),
        (entries, connection) => {
          const tags = entries.map(([text]) => parseEnipAddress(text));
          const sizes = new Map(tags.map((tag, i) => [tag, entries[i]?.[1]]));
          const limit = connection - 2;
          const groups = packReads(tags, limit, (tag) => sizes.get(tag));
          expect(groups.flat()).toEqual(tags);
          for (const group of groups) {
            expect(group.length).toBeGreaterThan(0);
            if (group.length === 1) continue;
            expect(multipleServiceRequest(group.map((tag) => readTagRequest(tag.path))).length).toBeLessThanOrEqual(
              limit,
            );
            const reply = group.reduce(
              (total, tag) => total + MSP_PER_SERVICE + (sizes.get(tag) ?? 96),
              MSP_REPLY_OVERHEAD,
            );
            expect(reply).toBeLessThanOrEqual(limit);
          }
        },
      ),
    );
  });

  it("fills a packet: 4002 bytes carry many more short tags than 504", () => {
    const tags = Array.from({ length: 1000 }, (_, i) => parseEnipAddress(`Counts[${i}]`));
    const dint = () => 8 + 4;
    expect(packReads(tags, 502, dint).length).toBeLessThan(40);
    expect(packReads(tags, 4000, dint).length).toBeLessThan(6);
  });
});
