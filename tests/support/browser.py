"""A real headless browser for tests that look at a page: Debian's `chromium`.

`screenshot(html, png)` renders a local HTML file to a PNG and returns its path. Tests that
need it call `require_chromium()` first: where chromium is not installed they skip, naming
the package (`.ci/run` installs it, so CI never skips).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


def chromium() -> str | None:
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def require_chromium() -> str:
    import pytest

    path = chromium()
    if path is None:
        pytest.skip("headless Chromium is not installed (apt-get install chromium)")
    return path


def screenshot(html_path: str, png_path: str, width: int = 1280, height: int = 2400, timeout: float = 60) -> str:
    """Render `html_path` headless (no network: the page must embed what it shows)."""
    exe = require_chromium()
    with tempfile.TemporaryDirectory() as profile:
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--hide-scrollbars", f"--user-data-dir={profile}", f"--window-size={width},{height}",
               f"--screenshot={os.path.abspath(png_path)}", "file://" + os.path.abspath(html_path)]
        subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
    if not os.path.exists(png_path):
        raise RuntimeError(f"chromium wrote no screenshot for {html_path}")
    return png_path


def dump_dom(html_path: str, timeout: float = 60) -> str:
    """The page's DOM after its scripts ran (to compare numbers on the page with the JSON)."""
    exe = require_chromium()
    with tempfile.TemporaryDirectory() as profile:
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={profile}", "--dump-dom", "file://" + os.path.abspath(html_path)]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False).stdout


def not_blank(png_path: str, min_colors: int = 8) -> bool:
    """True if the screenshot shows something: more than a few distinct colours."""
    from PIL import Image

    with Image.open(png_path) as im:
        colors = im.convert("RGB").getcolors(maxcolors=1 << 20)
    return colors is not None and len(colors) >= min_colors
