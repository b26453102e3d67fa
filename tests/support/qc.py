"""A quick demo run shared by the QC, report and demo tests (one per test session)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from support.common import run_cli
from support.shared import built_once

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars"]
BROWSER_SERVICES = ("google.com", "googleapis.com", "gvt1.com", "gstatic.com")


_RUNS: dict[str, tuple[Path, dict]] = {}


@pytest.fixture(scope="session")
def quick_demo(tmp_path_factory) -> tuple[Path, dict]:
    """``archivist demo --quick --json``: (its directory, its JSON summary).

    Each test module that imports this fixture gets its own copy of it, so
    the run itself is kept here and made once per test run (see support.shared).
    """
    if "quick" not in _RUNS:
        def build(work: Path) -> dict:
            proc = run_cli("demo", work / "demo-output", "--quick", "--json")
            assert proc.returncode == 0, f"demo failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
            return json.loads(proc.stdout)

        work, summary = built_once(tmp_path_factory, "shared-quick-demo", build)
        _RUNS["quick"] = (work / "demo-output", summary)
    return _RUNS["quick"]


def chromium_screenshot(html: Path, png: Path, profile: Path, netlog: Path, size=(1280, 2400)) -> subprocess.CompletedProcess:
    """Load ``html`` in headless Chromium, save a screenshot and the browser's network log."""
    cmd = [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--log-net-log={netlog}",
           f"--screenshot={png}", f"--window-size={size[0]},{size[1]}", html.resolve().as_uri()]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def page_requests(netlog: Path) -> set[str]:
    """URLs the network log saw, without the browser's own update and account services."""
    data = json.loads(netlog.read_text("utf-8", errors="replace") or "{}") if netlog.exists() else {}
    urls = set()
    for event in data.get("events", []):
        url = (event.get("params") or {}).get("url")
        if isinstance(url, str) and url.startswith(("http:", "https:", "ws:", "wss:", "ftp:")):
            host = url.split("/")[2].split(":")[0]
            if not host.endswith(BROWSER_SERVICES):
                urls.add(url)
    return urls
