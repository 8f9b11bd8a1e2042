"""Robust file downloads with the standard library only.

Snakemake's HTTP storage plugin sends requests while building the DAG, so it
fails offline even for a dry run; the workflow's download rules call
:func:`download` instead.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
import urllib.error
import urllib.request
from pathlib import Path

logger = logging.getLogger(__name__)

__all__ = ["DownloadError", "download", "sha256sum"]

_CHUNK = 1 << 20


class DownloadError(ValueError):
    """A download that failed for good (HTTP error, truncated body, wrong checksum)."""


def sha256sum(path: str | os.PathLike) -> str:
    """Hex SHA-256 digest of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fetch_once(url: str, part: Path, timeout: float) -> None:
    """One attempt: append to ``part`` from its current size when it already exists.

    Raises :class:`urllib.error.HTTPError` / :class:`OSError` on failure and
    :class:`DownloadError` for a body shorter than its Content-Length.
    """
    offset = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "sivae-download"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and offset:
            # Range past the end: the .part may already hold the whole file;
            # the checksum / size check decides.
            return
        raise
    with response:
        status = getattr(response, "status", 200)
        if offset and status != 206:
            # The server ignored the Range header and sends everything again.
            logger.info("%s: server does not resume; restarting from byte 0", url)
            offset = 0
        expected = response.headers.get("Content-Length")
        expected = int(expected) if expected is not None else None
        received = 0
        with open(part, "ab" if offset else "wb") as fh:
            while True:
                try:
                    chunk = response.read(_CHUNK)
                except Exception as err:  # http.client.IncompleteRead and socket errors
                    raise DownloadError(f"{url}: connection broke after {received} bytes") from err
                if not chunk:
                    break
                fh.write(chunk)
                received += len(chunk)
        if expected is not None and received < expected:
            raise DownloadError(f"{url}: truncated download, got {received} of {expected} bytes")


def download(
    url: str,
    dest: str | os.PathLike,
    sha256: str | None = None,
    retries: int = 3,
    backoff: float = 1.0,
    timeout: float = 60,
) -> Path:
    """Download ``url`` to ``dest`` safely.

    Bytes go to ``dest + ".part"``; an interrupted attempt is resumed with an
    HTTP ``Range`` request when the server allows it (otherwise restarted).
    Only a complete file whose SHA-256 matches ``sha256`` (when given) is
    renamed to ``dest``, atomically, so ``dest`` never holds a partial file.
    ``file://`` URLs work too (a local copy).

    Parameters
    ----------
    url
        HTTP(S) or file URL.
    dest
        Destination path (parent directories are created).
    sha256
        Expected hex digest; ``None`` skips the check (logged).
    retries
        Attempts after the first on network errors, truncation and 5xx
        responses; client errors (4xx) and checksum mismatches fail at once.
    backoff
        Seconds before the first retry, doubled at each further retry.
    timeout
        Socket timeout in seconds.

    Returns
    -------
    ``Path(dest)``.

    Raises
    ------
    DownloadError
        A :class:`ValueError` naming the URL and what went wrong.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    last_error: Exception | None = None
    for attempt in range(retries + 1):
        if attempt:
            wait = backoff * 2 ** (attempt - 1)
            logger.info("%s: retry %d/%d in %.1f s (%s)", url, attempt, retries, wait, last_error)
            time.sleep(wait)
        try:
            _fetch_once(url, part, timeout)
            break
        except urllib.error.HTTPError as err:
            last_error = err
            if 400 <= err.code < 500:
                _remove(part)
                raise DownloadError(f"{url}: HTTP {err.code} {err.reason}") from err
        except (DownloadError, urllib.error.URLError, OSError, TimeoutError) as err:
            last_error = err
    else:
        # Keep the .part so that a later call can resume it.
        raise DownloadError(
            f"{url}: download failed after {retries + 1} attempts: {last_error}"
        ) from last_error

    if sha256 is not None:
        digest = sha256sum(part)
        if digest.lower() != sha256.lower():
            _remove(part)
            raise DownloadError(f"{url}: checksum mismatch, expected sha256 {sha256}, got {digest}")
    else:
        logger.info("%s: no sha256 given; file not verified", url)
    os.replace(part, dest)
    logger.info("%s: saved to %s", url, dest)
    return dest


def _remove(path: Path) -> None:
    if path.exists():
        path.unlink()
