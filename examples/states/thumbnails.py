"""A deliberately flaky thumbnail service, for map-with-retries.asl.json.

A handler cannot see which attempt it is on, so this one keeps count itself:
one small file per (execution, image) in a folder under the system temp
directory. An image with ``"busy": N`` fails with ThumbnailServiceBusy on its
first N attempts and succeeds after that. Counting per execution keeps every
run deterministic without cleaning up, and a redrive of the same execution
carries on from the count it reached.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import Any


class ThumbnailServiceBusy(Exception):
    """Transient: the service asks to be called again later."""


class UnsupportedImage(Exception):
    """Permanent: this image will never resize."""


def _attempt(execution: str, image: str) -> int:
    folder = Path(tempfile.gettempdir()) / "cadenza-thumbnails"
    folder.mkdir(exist_ok=True)
    key = hashlib.sha256(f"{execution}/{image}".encode()).hexdigest()[:24]
    counter = folder / key
    attempt = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(attempt))
    return attempt


def resize(event: dict[str, Any]) -> dict[str, Any]:
    image = event["image"]
    name = image["name"]
    attempt = _attempt(event["execution"], name)
    if not name.endswith((".png", ".jpg")):
        raise UnsupportedImage(f"{name}: not a PNG or JPEG")
    if attempt <= int(image.get("busy", 0)):
        raise ThumbnailServiceBusy(f"{name}: busy on attempt {attempt}")
    width = int(event["width"])
    return {
        "source": name,
        "key": f"thumbnails/{width}/{name}",
        "width": width,
        "attempts": attempt,
    }
