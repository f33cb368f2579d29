"""A transparent HTTP proxy that records every request the mlflow client makes.

Enabled by COMPAT_RECORD=FILE in the compat suite: the client talks to the
proxy, the proxy forwards byte-for-byte (the request target is not
normalised, so hostile paths reach the server as sent) and appends one
tab-separated line per request to FILE:

    METHOD  TARGET  STATUS  JSON-BODY-KEYS

(JSON-BODY-KEYS: the request body's top-level keys, comma-separated, when the
body is a JSON object and not an artifact upload; empty otherwise.)

`python endpoints.py FILE...` turns these lines into the endpoint table the
server has to implement.
"""

from __future__ import annotations

import http.client
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
    "te", "trailers", "transfer-encoding", "upgrade", "content-length",
}


class RecordingProxy:
    def __init__(self, upstream_host: str, upstream_port: int, record_path: str):
        self._upstream = (upstream_host, upstream_port)
        self._record_path = record_path
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _read_body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().strip().split(b";")[0], 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            break
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                    return b"".join(chunks)
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _forward(self):
                body = self._read_body()
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                if body or self.command in ("POST", "PUT", "PATCH"):
                    headers["Content-Length"] = str(len(body))
                conn = http.client.HTTPConnection(*proxy._upstream, timeout=300)
                try:
                    conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                    for k, v in headers.items():
                        conn.putheader(k, v)
                    conn.endheaders(body if body else None)
                    resp = conn.getresponse()
                    data = resp.read()
                    status = resp.status
                    self.send_response_only(status, resp.reason)
                    for k, v in resp.getheaders():
                        if k.lower() not in _HOP_BY_HOP:
                            self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(data)
                except (ConnectionError, http.client.HTTPException, OSError):
                    status = 502
                    self.send_response_only(502, "Bad Gateway")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                finally:
                    conn.close()
                proxy._record(self.command, self.path, status, body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _forward

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def _record(self, method: str, target: str, status: int, body: bytes) -> None:
        keys = ""
        if body[:1] == b"{" and "/mlflow-artifacts/" not in target:
            try:
                keys = ",".join(sorted(json.loads(body)))
            except ValueError:
                pass
        with self._lock, open(self._record_path, "a") as f:
            f.write(f"{method}\t{target}\t{status}\t{keys}\n")

    def start(self) -> "RecordingProxy":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
