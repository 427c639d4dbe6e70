"""Every relative link and image in the repository's Markdown resolves inside the repository.

The repository is cloned on its own, so a link to a file outside it (a sibling folder), to a
file that is not committed, or to a heading that does not exist is a broken link for the
reader. External links (http, https, mailto) are not fetched.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

import pytest

from tests.harness import REPO

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
INLINE = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*(<[^>]*>|[^\s()]*(?:\([^\s()]*\))?)")
REFERENCE = re.compile(r"^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)")
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
HTML_ANCHOR = re.compile(r"<a\s+(?:name|id)=\"([^\"]+)\"")


def _prose_lines(text: str) -> Iterator[tuple[int, str]]:
    """Lines outside fenced code blocks, numbered from 1."""
    fence = ""
    for number, line in enumerate(text.splitlines(), start=1):
        opened = FENCE.match(line)
        if fence:
            if opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence):
                fence = ""
            continue
        if opened:
            fence = opened.group(1)
            continue
        yield number, line


def links(text: str) -> list[tuple[int, str]]:
    """(line, target) of every inline link, image and reference definition in prose."""
    found = []
    for number, line in _prose_lines(text):
        line = CODE_SPAN.sub(lambda m: " " * len(m.group(0)), line)
        targets = [m.group(1) for m in INLINE.finditer(line)]
        ref = REFERENCE.match(line)
        if ref:
            targets.append(ref.group(1))
        found.extend((number, t.strip("<>")) for t in targets)
    return found


def slug(heading: str) -> str:
    """The anchor a heading gets on GitHub: lower case, punctuation dropped, spaces to -."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text only
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every heading anchor of a page (repeated headings get -1, -2, …) and HTML anchors."""
    seen: dict[str, int] = {}
    found = set()
    for _, line in _prose_lines(text):
        for name in HTML_ANCHOR.findall(line):
            found.add(name)
        heading = HEADING.match(line)
        if not heading:
            continue
        base = slug(heading.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def problems(page: str, root: Path, tracked: set[str]) -> list[str]:
    """What is wrong with the links of one tracked page (a path relative to `root`)."""
    folders = {str(PurePosixPath(p).parent) for p in tracked}
    folders |= {str(parent) for p in folders for parent in PurePosixPath(p).parents}
    text = (root / page).read_text(encoding="utf-8")
    found = []
    for number, target in links(text):
        where = f"{page}:{number}: {target}"
        parts = urlsplit(target)
        if parts.scheme or parts.netloc:
            continue  # http, https, mailto: not checked here
        path, fragment = unquote(parts.path), unquote(parts.fragment)
        if path.startswith("/"):
            found.append(f"{where}: absolute path; link relative to the page")
            continue
        resolved = (root / page).parent / path if path else root / page
        try:
            inside = resolved.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            found.append(f"{where}: leaves the repository")
            continue
        if inside not in tracked and inside not in folders:
            found.append(f"{where}: no such file or folder in the repository")
            continue
        if not (fragment and inside.endswith(".md")):
            continue
        if fragment not in anchors((root / inside).read_text(encoding="utf-8")):
            found.append(f"{where}: no heading #{fragment} in {inside}")
    return found


def _tracked(root: Path) -> set[str]:
    git = shutil.which("git")
    if git is None or not (root / ".git").exists():
        pytest.skip("not a git checkout: the tracked Markdown files are unknown")
    out = subprocess.run(
        [git, "ls-files", "-z"], cwd=root, capture_output=True, check=True, text=True
    ).stdout
    return {name for name in out.split("\0") if name and (root / name).is_file()}


def test_every_markdown_link_resolves_inside_the_repository() -> None:
    tracked = _tracked(REPO)
    pages = sorted(p for p in tracked if p.endswith(".md"))
    assert "README.md" in pages
    broken = [issue for page in pages for issue in problems(page, REPO, tracked)]
    assert not broken, "broken links in Markdown:\n  " + "\n  ".join(broken)


def _repo(tmp_path: Path, files: dict[str, str]) -> tuple[Path, set[str]]:
    root = tmp_path / "repo"
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    (tmp_path / "outside.md").write_text("# Outside\n", encoding="utf-8")
    return root, set(files)


def _check(tmp_path: Path, readme: str, others: Iterable[tuple[str, str]] = ()) -> list[str]:
    root, tracked = _repo(tmp_path, {"README.md": readme, **dict(others)})
    return problems("README.md", root, tracked)


def test_links_in_code_are_not_links(tmp_path: Path) -> None:
    readme = "```\n[a](missing.md)\n```\nuse `[b](missing.md)` here\n"
    assert _check(tmp_path, readme) == []


def test_a_link_out_of_the_repository_is_refused(tmp_path: Path) -> None:
    (issue,) = _check(tmp_path, "See [the design](../outside.md).\n")
    assert issue == "README.md:1: ../outside.md: leaves the repository"


def test_missing_files_images_and_references_are_named(tmp_path: Path) -> None:
    readme = "![plan](docs/plan.png)\n\n[ref]: docs/gone.md\n[ok](docs/a.md) [abs](/docs/a.md)\n"
    issues = _check(tmp_path, readme, [("docs/a.md", "# A\n")])
    assert issues == [
        "README.md:1: docs/plan.png: no such file or folder in the repository",
        "README.md:3: docs/gone.md: no such file or folder in the repository",
        "README.md:4: /docs/a.md: absolute path; link relative to the page",
    ]


def test_heading_anchors_are_checked(tmp_path: Path) -> None:
    page = "# Title\n## Scaling out\n## Topics (`plantroom/topics.py`)\n## Again\n## Again\n"
    readme = (
        "[a](docs/p.md#scaling-out) [b](docs/p.md#topics-plantroomtopicspy) "
        "[c](docs/p.md#again-1) [d](docs/p.md#nowhere) [e](#local) [f](docs/)\n\n## Local\n"
    )
    (issue,) = _check(tmp_path, readme, [("docs/p.md", page)])
    assert issue == "README.md:1: docs/p.md#nowhere: no heading #nowhere in docs/p.md"


def test_the_docs_index_links_every_page() -> None:
    tracked = _tracked(REPO)
    index = "docs/index.md"
    linked = {
        (PurePosixPath("docs") / urlsplit(target).path).as_posix()
        for _, target in links((REPO / index).read_text(encoding="utf-8"))
        if not urlsplit(target).scheme
    }
    pages = {p for p in tracked if p.startswith("docs/") and p.endswith(".md") and p != index}
    missing = sorted(pages - linked)
    assert not missing, f"{index} does not link: {', '.join(missing)}"
