"""The console as an installable web app: its manifest, its icons (drawn with Pillow when
first asked for) and its service worker at `/sw.js`, which keeps the console's own files
on the device so that it opens without signal.

The manifest is in the language asked for (`?lang=zh`, as the console links it once it knows
its language), else the browser's (`Accept-Language`): Chinese for `zh…`, else English.

The service worker is `cloud/console/sw.js` with two constants put before it: `SHELL`,
the addresses of the console's files, and `VERSION`, a digest of their contents, so that a
changed console installs a new worker and drops the old copy."""

from __future__ import annotations

import hashlib
import io
import json
from functools import cache
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, Header, Query
from fastapi import Path as PathParam
from fastapi.responses import Response
from PIL import Image, ImageDraw

from cloud.errors import NotFound
from cloud.locale import N_, RECORD, Text, language_of
from cloud.requests.messages import pick_lang

THEME = "#102a43"  # the header's colour (console.css --brand)
ACCENT = "#6fdc8c"  # the header's "Live" dot
ICON_SIZES = (192, 512)
SHELL_SUFFIXES = (".js", ".css", ".json")
SCOPE_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
}
NAME = N_("Plantroom console")
SHORT_NAME = "Plantroom"  # a name, the same in every language
DESCRIPTION = N_("Jobs, alarms and equipment of the building's plant, for technicians.")


def shell_paths(console_dir: Path) -> list[str]:
    """The addresses the service worker keeps: the page, the manifest, the icons and every
    module, style sheet and catalog of the console (not the worker itself)."""
    files = sorted(
        p
        for p in console_dir.rglob("*")
        if p.is_file() and p.suffix in SHELL_SUFFIXES and p.name != "sw.js"
    )
    return [
        "/",
        "/manifest.webmanifest",
        *(f"/icons/icon-{size}.png" for size in ICON_SIZES),
        *(f"/console/{p.relative_to(console_dir).as_posix()}" for p in files),
    ]


@cache
def service_worker(console_dir: Path) -> bytes:
    """`sw.js` with SHELL and VERSION put before it."""
    shell = shell_paths(console_dir)
    digest = hashlib.sha256()
    for path in ["/console/index.html", "/console/sw.js", *shell]:
        if path.startswith("/console/"):
            digest.update(path.encode())
            digest.update((console_dir / path.removeprefix("/console/")).read_bytes())
    version = digest.hexdigest()[:16]
    head = f"const SHELL = {json.dumps(shell)};\nconst VERSION = {json.dumps(version)};\n"
    return head.encode() + (console_dir / "sw.js").read_bytes()


def manifest(text: Text = RECORD) -> dict[str, Any]:
    """The web app's manifest, its words in `text`'s language."""
    return {
        "name": text._(NAME),
        "short_name": SHORT_NAME,
        "description": text._(DESCRIPTION),
        "lang": text.html_lang,
        "dir": "ltr",
        "start_url": "/#/jobs",
        "scope": "/",
        "display": "standalone",
        "orientation": "portrait",
        "background_color": "#ffffff",
        "theme_color": THEME,
        "icons": [
            {
                "src": f"/icons/icon-{size}.png",
                "sizes": f"{size}x{size}",
                "type": "image/png",
                "purpose": "any maskable",
            }
            for size in ICON_SIZES
        ],
    }


@cache
def icon(size: int) -> bytes:
    """The app's icon: a green dot (the header's "Live") in a ring on the header's navy,
    kept inside the middle 80% so that a round mask does not cut it."""
    image = Image.new("RGB", (size, size), THEME)
    draw = ImageDraw.Draw(image)
    c = size / 2
    ring, dot, width = size * 0.30, size * 0.14, max(2, round(size * 0.06))
    draw.ellipse((c - ring, c - ring, c + ring, c + ring), outline="#ffffff", width=width)
    draw.ellipse((c - dot, c - dot, c + dot, c + dot), fill=ACCENT)
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


def install(app: FastAPI, console_dir: Path, page_headers: dict[str, str]) -> None:
    """Add `/sw.js`, `/manifest.webmanifest` and `/icons/icon-{size}.png` to `app`."""

    def worker() -> Response:
        return Response(
            service_worker(console_dir),
            media_type="text/javascript",
            headers={**page_headers, **SCOPE_HEADERS},
        )

    def web_manifest(
        lang: Annotated[str | None, Query(max_length=35, description="en or zh")] = None,
        accept_language: Annotated[str | None, Header(max_length=200)] = None,
    ) -> Response:
        text = Text(language_of(lang or pick_lang(accept_language)), RECORD.zone)
        return Response(
            json.dumps(manifest(text), ensure_ascii=False).encode(),
            media_type="application/manifest+json",
            headers={
                **SCOPE_HEADERS,
                "Content-Language": text.html_lang,
                "Vary": "Accept-Language",
            },
        )

    def app_icon(size: Annotated[int, PathParam(ge=1, le=1024)]) -> Response:
        if size not in ICON_SIZES:
            raise NotFound(f"no {size} px icon; the sizes are {', '.join(map(str, ICON_SIZES))}")
        return Response(icon(size), media_type="image/png", headers=SCOPE_HEADERS)

    for path, route in (("/sw.js", worker), ("/manifest.webmanifest", web_manifest)):
        app.add_api_route(path, route, methods=["GET", "HEAD"], include_in_schema=False)
    app.add_api_route(
        "/icons/icon-{size}.png", app_icon, methods=["GET", "HEAD"], include_in_schema=False
    )
