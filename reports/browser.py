"""Render the report in a real headless Chromium: the DOM after rendering, and a screenshot.
Used by `make report SCREENSHOT=...` and by the browser test."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    """The Chromium binary on PATH (Debian's package: `apt-get install chromium`), or None."""
    return next((path for name in NAMES if (path := shutil.which(name))), None)


def _run(html: Path, *flags: str, timeout: float = 120) -> subprocess.CompletedProcess:
    binary = find_chromium()
    if binary is None:
        raise FileNotFoundError(f"no Chromium found (looked for {', '.join(NAMES)}): apt-get install chromium")
    with tempfile.TemporaryDirectory(prefix="report-chromium-") as profile:
        # --no-sandbox: Chromium refuses to run as root with its sandbox; a fresh profile each time
        cmd = [binary, "--headless", "--disable-gpu", "--no-sandbox", f"--user-data-dir={profile}",
               "--hide-scrollbars", *flags, Path(html).resolve().as_uri()]  # fmt: skip
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=True)


def dump_dom(html: Path) -> str:
    """The DOM as Chromium holds it once the page has loaded."""
    return _run(html, "--dump-dom").stdout


def screenshot(html: Path, png: Path, width: int = 1200, height: int = 4000, crop: bool = True) -> Path:
    """A PNG of the top `height` pixels of the page at `width`; with `crop` (and Pillow), the
    blank window below the page's end cut off."""
    png = Path(png).resolve()
    png.parent.mkdir(parents=True, exist_ok=True)
    _run(html, f"--screenshot={png}", f"--window-size={width},{height}")
    if not png.is_file():
        raise RuntimeError(f"Chromium wrote no screenshot to {png}")
    if crop:
        _crop_blank_bottom(png)
    return png


def _crop_blank_bottom(png: Path, margin: int = 24) -> None:
    try:
        from PIL import Image, ImageOps
    except ImportError:  # the uncropped screenshot is still right
        return
    with Image.open(png) as image:
        box = ImageOps.invert(image.convert("L")).getbbox()  # the box of everything not white
        if box and box[3] + margin < image.height:
            image.crop((0, 0, image.width, box[3] + margin)).save(png, optimize=True)
