"""Checked downloads: stream to a temporary file beside the target, verify the MD5, then rename into place."""
from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

CHUNK = 1 << 20


def fetch(url: str, dest: Path, md5: str, timeout: float = 60.0) -> Path:
    """Download `url` to `dest`, checking the MD5 of the bytes against `md5` (mismatch: ValueError, nothing left)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    try:
        digest = hashlib.md5()
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response:
                    while chunk := response.read(CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
            except (urllib.error.URLError, TimeoutError) as err:  # HTTPError is a URLError
                raise FileNotFoundError(f"could not download {url}: {err}") from err
        if digest.hexdigest() != md5:
            raise ValueError(
                f"checksum mismatch for {dest.name} downloaded from {url}: MD5 {digest.hexdigest()}, "
                f"expected {md5}; the file was discarded, try again or fetch it by hand"
            )
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return dest
