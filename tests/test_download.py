"""download(): against a small HTTP server on 127.0.0.1 started by the test."""

import hashlib
import http.server
import threading

import pytest
from sivae.datasets import DownloadError, download, sha256sum

PAYLOAD = bytes(range(256)) * 400  # 100 kB
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


class _Handler(http.server.BaseHTTPRequestHandler):
    """Routes: /good (honours Range), /norange, /truncated (always short),
    /flaky (first response short, later ones honour Range), /missing (404), /broken (500)."""

    requests: list = []
    flaky_calls = 0

    def log_message(self, *args):  # keep pytest output clean
        pass

    def _send(self, body, status=200, length=None, extra=()):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        for key, value in extra:
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def _ranged(self):
        start = 0
        header = self.headers.get("Range")
        if header:
            start = int(header.removeprefix("bytes=").split("-")[0])
            if start >= len(PAYLOAD):
                return self._send(b"", status=416)
            body = PAYLOAD[start:]
            return self._send(
                body,
                status=206,
                extra=[("Content-Range", f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}")],
            )
        return self._send(PAYLOAD)

    def do_GET(self):
        type(self).requests.append((self.path, self.headers.get("Range")))
        if self.path == "/good":
            return self._ranged()
        if self.path == "/norange":
            return self._send(PAYLOAD)
        if self.path == "/truncated":
            self.close_connection = True
            return self._send(PAYLOAD[:1000], length=len(PAYLOAD))
        if self.path == "/flaky":
            type(self).flaky_calls += 1
            if type(self).flaky_calls == 1:
                self.close_connection = True
                return self._send(PAYLOAD[:30000], length=len(PAYLOAD))
            return self._ranged()
        if self.path == "/broken":
            return self._send(b"oops", status=500)
        return self._send(b"not here", status=404)


@pytest.fixture
def server():
    _Handler.requests = []
    _Handler.flaky_calls = 0
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def test_good_file_with_checksum(server, tmp_path):
    dest = download(f"{server}/good", tmp_path / "sub" / "data.bin", sha256=PAYLOAD_SHA)
    assert dest.read_bytes() == PAYLOAD
    assert sha256sum(dest) == PAYLOAD_SHA
    assert not (tmp_path / "sub" / "data.bin.part").exists()


def test_wrong_checksum_leaves_nothing(server, tmp_path):
    dest = tmp_path / "data.bin"
    with pytest.raises(DownloadError, match=r"/good: checksum mismatch"):
        download(f"{server}/good", dest, sha256="0" * 64)
    assert list(tmp_path.iterdir()) == []


def test_404_fails_at_once(server, tmp_path):
    with pytest.raises(DownloadError, match=r"/missing: HTTP 404"):
        download(f"{server}/missing", tmp_path / "x.bin", retries=3, backoff=0)
    assert len(_Handler.requests) == 1  # client errors are not retried
    assert list(tmp_path.iterdir()) == []


def test_truncated_file_retried_then_fails(server, tmp_path):
    dest = tmp_path / "x.bin"
    with pytest.raises(DownloadError, match=r"/truncated: download failed after 3 attempts"):
        download(f"{server}/truncated", dest, retries=2, backoff=0)
    assert not dest.exists()
    assert len(_Handler.requests) == 3


def test_server_error_retried(server, tmp_path):
    with pytest.raises(DownloadError, match="HTTP Error 500"):
        download(f"{server}/broken", tmp_path / "x.bin", retries=1, backoff=0)
    assert len(_Handler.requests) == 2


def test_truncated_then_resumed_with_range(server, tmp_path):
    dest = download(f"{server}/flaky", tmp_path / "x.bin", sha256=PAYLOAD_SHA, backoff=0)
    assert dest.read_bytes() == PAYLOAD
    assert _Handler.requests == [("/flaky", None), ("/flaky", "bytes=30000-")]


def test_resume_from_existing_part(server, tmp_path):
    dest = tmp_path / "x.bin"
    (tmp_path / "x.bin.part").write_bytes(PAYLOAD[:12345])
    download(f"{server}/good", dest, sha256=PAYLOAD_SHA)
    assert dest.read_bytes() == PAYLOAD
    assert _Handler.requests == [("/good", "bytes=12345-")]


def test_complete_part_and_server_says_416(server, tmp_path):
    (tmp_path / "x.bin.part").write_bytes(PAYLOAD)
    dest = download(f"{server}/good", tmp_path / "x.bin", sha256=PAYLOAD_SHA)
    assert dest.read_bytes() == PAYLOAD


def test_server_without_range_restarts(server, tmp_path):
    (tmp_path / "x.bin.part").write_bytes(b"garbage that must not stay")
    dest = download(f"{server}/norange", tmp_path / "x.bin", sha256=PAYLOAD_SHA)
    assert dest.read_bytes() == PAYLOAD


def test_file_url(tmp_path):
    source = tmp_path / "source.bin"
    source.write_bytes(PAYLOAD)
    dest = download(source.as_uri(), tmp_path / "copy.bin", sha256=PAYLOAD_SHA)
    assert dest.read_bytes() == PAYLOAD
