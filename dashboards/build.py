"""Generate every dashboard, write them to `dashboards/generated/`, check they are current."""

from __future__ import annotations

import json
from pathlib import Path

from dashboards.boards import fire_panels, lifts, lighting, pipeline, portfolio, pumps, work_orders
from dashboards.errors import DashboardError
from dashboards.grafana import JSON
from dashboards.profiles import DEFAULT_PROFILES_DIR, load_points

GENERATED_DIR = Path(__file__).resolve().parent / "generated"


def build_all(profiles_dir: Path = DEFAULT_PROFILES_DIR) -> dict[str, JSON]:
    """Every dashboard's JSON model, by file name (`<uid>.json`), in a stable order."""
    kinds = load_points(profiles_dir)
    boards = [
        portfolio.build(kinds),
        lifts.SPEC.build(kinds),
        pumps.SPEC.build(kinds),
        fire_panels.SPEC.build(kinds),
        lighting.SPEC.build(kinds),
        pipeline.build(),
        work_orders.build(),
    ]
    out: dict[str, JSON] = {}
    for board in boards:
        name = f"{board.uid}.json"
        if name in out:
            raise DashboardError(f"two dashboards share the uid {board.uid!r}")
        out[name] = board.to_json()
    return out


def render(dashboard: JSON) -> str:
    """The file text of a dashboard: stable key order, two-space indent, final newline."""
    return json.dumps(dashboard, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_generated(
    out_dir: Path = GENERATED_DIR, profiles_dir: Path = DEFAULT_PROFILES_DIR
) -> list[Path]:
    """Write every dashboard to `out_dir` and remove generated files no longer produced."""
    dashboards = build_all(profiles_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for stale in sorted(out_dir.glob("*.json")):
            if stale.name not in dashboards:
                stale.unlink()
        written = []
        for name, dashboard in dashboards.items():
            path = out_dir / name
            text = render(dashboard)
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                path.write_text(text, encoding="utf-8")
            written.append(path)
    except OSError as exc:
        raise DashboardError(f"{out_dir}: cannot write dashboards: {exc}") from exc
    return written


def stale_files(
    out_dir: Path = GENERATED_DIR, profiles_dir: Path = DEFAULT_PROFILES_DIR
) -> list[str]:
    """Names of files in `out_dir` that differ from the generator's output (or are missing
    or no longer generated). Empty means the committed JSON is current."""
    dashboards = build_all(profiles_dir)
    problems = []
    present = {p.name for p in out_dir.glob("*.json")} if out_dir.is_dir() else set()
    for name, dashboard in dashboards.items():
        path = out_dir / name
        if name not in present:
            problems.append(f"{name}: missing")
        elif path.read_text(encoding="utf-8") != render(dashboard):
            problems.append(f"{name}: differs from the generator")
    problems += [f"{name}: no longer generated" for name in sorted(present - set(dashboards))]
    return problems


def load_generated(out_dir: Path = GENERATED_DIR) -> list[JSON]:
    """The dashboards as written in `out_dir`, for upload."""
    files = sorted(out_dir.glob("*.json"))
    if not files:
        raise DashboardError(f"{out_dir}: no dashboards; run `plantroom dashboards build` first")
    out = []
    for path in files:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise DashboardError(f"{path}: not a readable dashboard: {exc}") from exc
        if not isinstance(data, dict) or not data.get("uid") or "panels" not in data:
            raise DashboardError(f"{path}: not a Grafana dashboard (needs uid and panels)")
        out.append(data)
    return out
