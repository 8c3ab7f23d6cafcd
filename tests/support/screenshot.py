"""A headless-Chromium screenshot of an evaluation report, and what it must show (the charts were drawn)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.unit.evaluation import png

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
NO_CHROMIUM = "no chromium or chromium-browser on PATH (Debian: apt-get install chromium)"
BACKGROUND = (249, 250, 251)  # #f9fafb
TEAL = (15, 118, 110)  # report.STUDENT: the loss curve and the student's bars


def assert_report_screenshot(page: Path, tmp_path: Path) -> None:
    """Render ``page`` at 1280x1000 and check the first screen is drawn and shows the loss curve."""
    shot = tmp_path / "report.png"
    command = [
        str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,1000", f"--screenshot={shot}", page.as_uri(),
    ]  # fmt: skip
    finished = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert shot.exists(), finished.stderr[-2000:]
    image = png.read(shot.read_bytes())
    assert (image.width, image.height) == (1280, 1000)

    def close(pixel: tuple[int, int, int], colour: tuple[int, int, int], within: int) -> bool:
        # Spelled out: this runs for half a million pixels.
        return (abs(pixel[0] - colour[0]) <= within and abs(pixel[1] - colour[1]) <= within
                and abs(pixel[2] - colour[2]) <= within)  # fmt: skip

    pixels = [image.pixel(x, y) for y in range(0, 1000, 2) for x in range(0, 1280, 2)]
    drawn = sum(1 for p in pixels if not close(p, BACKGROUND, 3))
    assert drawn > len(pixels) // 20, f"only {drawn} of {len(pixels)} sampled pixels differ from the background"
    # The loss curve sits below the verdict; nothing else on the first screen has the student's colour.
    curve = sum(1 for y in range(450, 1000) for x in range(60, 1220, 2) if close(image.pixel(x, y), TEAL, 24))
    assert curve > 300, f"the loss curve is missing: {curve} pixels of its colour"
