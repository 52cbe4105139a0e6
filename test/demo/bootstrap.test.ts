// The demo bootstrap's pure decisions: which of Odoo's requirements apply to a
// Python, what pip's failure asks to install, where PostgreSQL's programs are.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { findPostgresBin, markerHolds, pipFailureAdvice, requiredImports } from "../../sidecar/devstack/bootstrap.ts";

// Lines in the shape of Odoo 18's requirements.txt (markers, comments, import names that differ).
const REQUIREMENTS = `
# The officially supported versions ...
Babel==2.9.1 ; python_version < '3.11'  # (Focal)
Babel==2.10.3 ; python_version >= '3.11'
gevent==21.8.0 ; sys_platform != 'win32' and python_version == '3.10'  # (Jammy)
lxml==5.2.1; python_version >= '3.12' # (Noble)
lxml-html-clean; python_version >= '3.12'
Pillow==9.4.0 ; python_version > '3.10' and python_version < '3.12'
pypiwin32 ; sys_platform == 'win32'
python-ldap==3.4.4 ; sys_platform != 'win32' and python_version >= '3.12'
pytz  # no version pinning
XlsxWriter==3.0.2 ; python_version < '3.12'
`;

describe("requirements → modules to import", () => {
  it("keeps the lines whose markers hold for the Python, under their import names", () => {
    expect(requiredImports(REQUIREMENTS, "3.11", "linux")).toEqual(["PIL", "babel", "pytz", "xlsxwriter"]);
    expect(requiredImports(REQUIREMENTS, "3.12", "linux")).toEqual([
      "babel",
      "ldap",
      "lxml",
      "lxml_html_clean",
      "pytz",
    ]);
    expect(requiredImports(REQUIREMENTS, "3.10", "linux")).toEqual(["babel", "gevent", "pytz", "xlsxwriter"]);
    expect(requiredImports(REQUIREMENTS, "3.12", "win32")).toContain("pypiwin32");
  });

  it("compares versions as numbers, not strings", () => {
    expect(markerHolds("python_version >= '3.9'", "3.10", "linux")).toBe(true);
    expect(markerHolds("python_version < '3.12'", "3.9", "linux")).toBe(true);
    expect(markerHolds("python_version <= '3.10'", "3.11", "linux")).toBe(false);
    expect(markerHolds("sys_platform != 'win32' and python_version == '3.10'", "3.10", "linux")).toBe(true);
    expect(markerHolds("", "3.11", "linux")).toBe(true);
  });
});

describe("pip's failure → what to install", () => {
  it("names the LDAP and SASL headers for python-ldap (pip's own output without libldap2-dev)", () => {
    const output = readFileSync(join(import.meta.dirname, "fixtures/pip-python-ldap-without-headers.txt"), "utf8");
    const advice = pipFailureAdvice(output);
    expect(advice).toContain("apt-get install libldap2-dev libsasl2-dev");
    expect(advice).not.toContain("build-essential"); // gcc ran; a header was missing
    expect(advice).toContain(".ci/run");
  });

  it("names libpq-dev for psycopg2, a compiler when there is none, and PyPI when it is out of reach", () => {
    expect(pipFailureAdvice("Error: pg_config executable not found.")).toContain("apt-get install libpq-dev");
    expect(pipFailureAdvice("error: command 'x86_64-linux-gnu-gcc' failed: No such file or directory")).toContain(
      "build-essential",
    );
    expect(pipFailureAdvice("ERROR: No matching distribution found for cbor2==5.4.2")).toContain("PIP_INDEX_URL");
    expect(pipFailureAdvice("something else entirely")).toMatch(/apt-get install libpq-dev .*python3-dev/);
  });
});

describe("PostgreSQL's programs", () => {
  const dir = mkdtempSync(join(tmpdir(), "sfb-pgbin-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const server = (bin: string) => {
    mkdirSync(bin, { recursive: true });
    for (const name of ["initdb", "pg_ctl"]) writeFileSync(join(bin, name), "");
  };

  it("takes PATH first, then the newest version folder of the lib", () => {
    const lib = join(dir, "lib");
    for (const version of ["9.6", "13", "15"]) server(join(lib, version, "bin"));
    mkdirSync(join(lib, "16/bin"), { recursive: true }); // client only: no initdb
    expect(findPostgresBin({ PATH: join(dir, "empty") }, lib)).toBe(join(lib, "15/bin"));
    server(join(dir, "onpath"));
    expect(findPostgresBin({ PATH: `${join(dir, "empty")}:${join(dir, "onpath")}` }, lib)).toBe(join(dir, "onpath"));
    expect(findPostgresBin({ PATH: join(dir, "empty") }, join(dir, "nolib"))).toBeUndefined();
  });
});
