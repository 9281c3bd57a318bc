"""A stand-in for the Hugging Face Hub's HTTP API: the four endpoints `HfApi.create_repo`
and `HfApi.upload_folder` call, answering in the real response shapes and recording
every request. The Hub can't be reached from here; this is its HTTP boundary."""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeHub:
    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.files: dict[str, bytes] = {}
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                hub.requests.append(
                    {"path": self.path, "auth": self.headers.get("Authorization"), "body": body}
                )
                if self.path == "/api/repos/create":
                    return self._reply(
                        200,
                        {
                            "url": f"{hub.url}/datasets/{json.loads(body)['organization']}/{json.loads(body)['name']}"
                        },
                    )
                if self.path == "/api/validate-yaml":
                    return self._reply(200, {"errors": [], "warnings": []})
                if "/preupload/" in self.path:
                    files = json.loads(body)["files"]
                    return self._reply(
                        200,
                        {
                            "files": [
                                {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                                for f in files
                            ]
                        },
                    )
                if "/commit/" in self.path:
                    for line in body.splitlines():
                        entry = json.loads(line)
                        if entry["key"] == "file":
                            hub.files[entry["value"]["path"]] = base64.b64decode(
                                entry["value"]["content"]
                            )
                    repo = self.path.split("/api/datasets/")[1].split("/commit/")[0]
                    commit_url = f"{hub.url}/datasets/{repo}/commit/0123abcd"
                    return self._reply(200, {"commitUrl": commit_url, "commitOid": "0123abcd"})
                return self._reply(404, {"error": f"not faked: {self.path}"})

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
