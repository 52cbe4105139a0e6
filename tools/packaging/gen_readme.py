"""Writes an Odoo module's README.rst and static/description/index.html.

The layout is the one OCA modules show (their oca-gen-addon-readme): the title
from the manifest's name, badges (development status, license, repository),
the manifest's summary, readme/DESCRIPTION, a table of contents, one section
per readme/ fragment in OCA's order, then Bug Tracker and Credits (authors
from the manifest, readme/CONTRIBUTORS, readme/CREDITS, maintainers from the
manifest). Markdown fragments become reStructuredText through pandoc
(pypandoc-binary); reStructuredText fragments are taken as they are.
index.html is README.rst rendered by docutils, as Odoo's Apps page shows it.

Run in .venv-tools/ (tools/packaging/venv.sh), through gen-readme.sh:
    .venv-tools/bin/python tools/packaging/gen_readme.py --addon-dir odoo_addon/shopfloor_bridge
"""

import argparse
import ast
import hashlib
import io
import json
import re
import sys
from pathlib import Path

import docutils.core
import docutils.utils
import pypandoc

# (fragment, section title), in the order OCA's READMEs show them.
SECTIONS = [
    ("CONTEXT", "Use Cases / Context"),
    ("INSTALL", "Installation"),
    ("CONFIGURE", "Configuration"),
    ("USAGE", "Usage"),
    ("DEVELOP", "Development"),
    ("ROADMAP", "Known issues / Roadmap"),
    ("HISTORY", "Changelog"),
]
CREDIT_SECTIONS = [("CONTRIBUTORS", "Contributors"), ("CREDITS", "Other credits")]
FRAGMENTS = ["DESCRIPTION"] + [name for name, _ in SECTIONS + CREDIT_SECTIONS]

# development_status → shields.io colour (OCA's maturity levels).
MATURITY_COLOURS = {
    "Alpha": "red",
    "Beta": "yellow",
    "Production/Stable": "green",
    "Mature": "brightgreen",
}
MATURITY_PAGE = "https://odoo-community.org/page/development-status"
LICENSE_PAGES = {
    "AGPL-3": "http://www.gnu.org/licenses/agpl-3.0-standalone.html",
    "LGPL-3": "http://www.gnu.org/licenses/lgpl-3.0-standalone.html",
    "GPL-3": "http://www.gnu.org/licenses/gpl-3.0-standalone.html",
    "OPL-1": "https://www.odoo.com/documentation/18.0/legal/licenses.html",
    "OEEL-1": "https://www.odoo.com/documentation/18.0/legal/licenses.html",
}
DIGEST_LINE = re.compile(r"^\s*!! source digest: (sha256:[0-9a-f]{64})$", re.MULTILINE)


class ReadmeError(Exception):
    """A source the README cannot be made from; the message names it."""


def read_manifest(addon: Path) -> dict:
    path = addon / "__manifest__.py"
    if not path.is_file():
        raise ReadmeError(f"no {path}: --addon-dir must be an Odoo module")
    manifest = ast.literal_eval(path.read_text(encoding="utf-8"))
    for key in ("name", "license", "version"):
        if not manifest.get(key):
            raise ReadmeError(f"{path} has no {key!r}")
    return manifest


def read_fragments(addon: Path) -> dict[str, str]:
    """readme/NAME.md or readme/NAME.rst → reStructuredText, by NAME."""
    fragments = {}
    for name in FRAGMENTS:
        sources = [p for p in (addon / "readme" / f"{name}.md", addon / "readme" / f"{name}.rst") if p.is_file()]
        if len(sources) > 1:
            raise ReadmeError(f"both {sources[0]} and {sources[1]}: keep one")
        if not sources:
            continue
        text = sources[0].read_text(encoding="utf-8")
        if sources[0].suffix == ".md":
            text = markdown_to_rst(text, sources[0], name)
        text = text.strip()
        if text:
            fragments[name] = text
    return fragments


def markdown_to_rst(text: str, source: Path, name: str) -> str:
    """GitHub Markdown → reStructuredText, headings under the fragment's section.

    The fragment's top headings become subsections of the section that holds
    it, whatever level they have in the Markdown (##, ###, …).
    """
    levels = [
        block["c"][0]
        for block in json.loads(pypandoc.convert_text(text, "json", format="gfm"))["blocks"]
        if block["t"] == "Header"
    ]
    if not levels:
        return pypandoc.convert_text(text, "rst", format="gfm")
    if name == "DESCRIPTION":
        # The table of contents follows the description: a section opened
        # there would hold the table and every section after it.
        raise ReadmeError(f"{source} has headings: the description comes before the table of contents, use bold text")
    shift = 2 - min(levels)
    return pypandoc.convert_text(text, "rst", format="gfm", extra_args=[f"--shift-heading-level-by={shift}"])


def source_digest(addon: Path) -> str:
    """sha256 over the manifest and every file of readme/, names included."""
    digest = hashlib.sha256()
    sources = [addon / "__manifest__.py"] + sorted(p for p in (addon / "readme").rglob("*") if p.is_file())
    for path in sources:
        digest.update(path.relative_to(addon).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return f"sha256:{digest.hexdigest()}"


def escape(text: str) -> str:
    """Plain text as reStructuredText inline content."""
    return re.sub(r"([\\*`|_])", r"\\\1", text)


def shield(text: str) -> str:
    """A shields.io static badge path segment (its escaping of - and _)."""
    return text.replace("-", "--").replace("_", "__").replace(" ", "%20").replace("/", "%2F")


def heading(title: str, underline: str) -> str:
    return f"{title}\n{underline * len(title)}"


def render_rst(manifest: dict, fragments: dict[str, str], addon_name: str, repo: str, branch: str, digest: str) -> str:
    name = escape(manifest["name"])
    repo_url = f"https://github.com/{repo}"
    addon_url = f"{repo_url}/tree/{branch}/{addon_name}"
    status = manifest.get("development_status")

    badges = []
    if status:
        if status not in MATURITY_COLOURS:
            raise ReadmeError(f"development_status {status!r} is none of {', '.join(MATURITY_COLOURS)}")
        badges.append(
            (
                f"https://img.shields.io/badge/maturity-{shield(status)}-{MATURITY_COLOURS[status]}.png",
                MATURITY_PAGE,
                status,
            )
        )
    license_ = manifest["license"]
    badges.append(
        (
            f"https://img.shields.io/badge/license-{shield(license_)}-blue.png",
            LICENSE_PAGES.get(license_, "#"),
            f"License: {license_}",
        )
    )
    badges.append((f"https://img.shields.io/badge/github-{shield(repo)}-lightgray.png?logo=github", addon_url, repo))

    out = [
        f"{'=' * len(name)}\n{name}\n{'=' * len(name)}",
        "..\n"
        "   !! Generated by tools/packaging/gen_readme.py from __manifest__.py and readme/:\n"
        "   !! edit those and regenerate, changes made here are overwritten.\n"
        f"   !! source digest: {digest}",
        "\n".join(
            f".. |badge{i}| image:: {image}\n    :target: {target}\n    :alt: {alt}"
            for i, (image, target, alt) in enumerate(badges, 1)
        ),
        " ".join(f"|badge{i}|" for i in range(1, len(badges) + 1)),
    ]
    if manifest.get("summary"):
        out.append(f"*{escape(manifest['summary'].strip())}*")
    if "DESCRIPTION" in fragments:
        out.append(fragments["DESCRIPTION"])
    if status == "Alpha":
        out.append(
            ".. IMPORTANT::\n"
            "   Alpha: the data model and the design may change at any time, without migration.\n"
            "   For development and tests only, not for production.\n"
            f"   `Development status <{MATURITY_PAGE}>`_"
        )
    out += ["**Table of contents**", ".. contents::\n   :local:"]
    out += [f"{heading(title, '=')}\n\n{fragments[key]}" for key, title in SECTIONS if key in fragments]

    new_issue = (
        f"{repo_url}/issues/new?body=module:%20{addon_name}%0Aversion:%20{branch}"
        "%0A%0A**Steps%20to%20reproduce**%0A-%20...%0A%0A**Current%20behavior**%0A%0A**Expected%20behavior**"
    )
    out.append(
        f"{heading('Bug Tracker', '=')}\n\n"
        f"Bugs are tracked on `GitHub Issues <{repo_url}/issues>`_.\n"
        "Look there first whether yours is known; if not,\n"
        f"`report it <{new_issue}>`_\n"
        "with the steps that reproduce it, what happens and what you expected."
    )

    out.append(heading("Credits", "="))
    authors = [a.strip() for a in manifest.get("author", "").split(",") if a.strip()]
    if authors:
        out.append(heading("Authors", "-") + "\n\n" + "\n".join(f"* {escape(a)}" for a in authors))
    out += [f"{heading(title, '-')}\n\n{fragments[key]}" for key, title in CREDIT_SECTIONS if key in fragments]
    maintainers = manifest.get("maintainers", [])
    maintained = heading("Maintainers", "-")
    if maintainers:
        maintained += "\n\n" + "\n".join(
            f".. |maintainer-{m}| image:: https://github.com/{m}.png?size=40px\n"
            f"    :target: https://github.com/{m}\n    :alt: {m}"
            for m in maintainers
        )
        maintained += f"\n\nCurrent maintainer{'s' if len(maintainers) > 1 else ''}:\n\n"
        maintained += " ".join(f"|maintainer-{m}|" for m in maintainers)
    maintained += (
        f"\n\nThis module is part of the `{repo} <{addon_url}>`_ project on GitHub.\n\nYou are welcome to contribute."
    )
    out.append(maintained)
    return "\n\n".join(out) + "\n"


def render_html(rst: str, source: Path) -> str:
    settings = {
        # A warning in README.rst is a broken README: stop instead of writing
        # the error into index.html.
        "halt_level": 2,
        "report_level": 2,
        "output_encoding": "utf-8",
        "xml_declaration": False,
        "smart_quotes": True,
        # Pygments' short class names, which its stylesheets use.
        "syntax_highlight": "short",
        "warning_stream": io.StringIO(),  # the error says it, once
    }
    try:
        html = docutils.core.publish_string(
            rst, source_path=str(source), writer_name="html4css1", settings_overrides=settings
        )
        return html.decode("utf-8")
    except docutils.utils.SystemMessage as error:
        raise ReadmeError(f"{source}: docutils cannot render it: {error}") from error


def github_repo(manifest: dict) -> str | None:
    match = re.fullmatch(r"https://github\.com/([\w.-]+/[\w.-]+?)/?", manifest.get("website", ""))
    return match and match.group(1)


def generate(addon: Path, repo: str | None, branch: str | None, if_source_changed: bool) -> bool:
    """Writes the two files; False when --if-source-changed found them current."""
    addon = addon.resolve()
    manifest = read_manifest(addon)
    readme = addon / "README.rst"
    digest = source_digest(addon)
    if if_source_changed and readme.is_file():
        found = DIGEST_LINE.search(readme.read_text(encoding="utf-8"))
        if found and found.group(1) == digest:
            return False
    repo = repo or github_repo(manifest)
    if not repo:
        raise ReadmeError(f"the manifest's website is not a GitHub repository: give --repo ORG/NAME ({addon})")
    branch = branch or ".".join(manifest["version"].split(".")[:2])
    rst = render_rst(manifest, read_fragments(addon), addon.name, repo, branch, digest)
    html = render_html(rst, readme)
    readme.write_text(rst, encoding="utf-8")
    index = addon / "static" / "description" / "index.html"
    index.parent.mkdir(parents=True, exist_ok=True)
    index.write_text(html, encoding="utf-8")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--addon-dir", type=Path, required=True, help="the Odoo module's directory")
    parser.add_argument("--repo", help="GitHub ORG/NAME (default: from the manifest's website)")
    parser.add_argument("--branch", help="the repository's branch (default: the Odoo series of the version)")
    parser.add_argument(
        "--if-source-changed",
        action="store_true",
        help="do nothing when README.rst's digest matches the manifest and readme/",
    )
    args = parser.parse_args(argv)
    try:
        written = generate(args.addon_dir, args.repo, args.branch, args.if_source_changed)
    except ReadmeError as error:
        print(f"gen_readme: {error}", file=sys.stderr)
        return 1
    if written:
        print(f"wrote {args.addon_dir / 'README.rst'} and {args.addon_dir / 'static/description/index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
