"""OpenAI's files and fine-tuning endpoints at the HTTP boundary, on loopback: uploads kept
by name, jobs that go validating -> running -> succeeded one poll at a time."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse


class FakeFineTuning:
    def __init__(self, final_status: str = "succeeded") -> None:
        self.files: list[dict[str, Any]] = []
        self.jobs: dict[str, dict[str, Any]] = {}
        self.log: list[tuple[str, str, Any]] = []  # (method, path, body)
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self, body: dict[str, Any], status: int = 200) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                url = urlparse(self.path)
                stub.log.append(("GET", url.path, parse_qs(url.query)))
                if url.path == "/v1/files":
                    return self._reply({"object": "list", "data": stub.files, "has_more": False})
                if url.path == "/v1/fine_tuning/jobs":
                    query = parse_qs(url.query)
                    wanted = {k[9:-1]: v[0] for k, v in query.items() if k.startswith("metadata[")}
                    found = [
                        j for j in stub.jobs.values()
                        if all(j["metadata"].get(k) == v for k, v in wanted.items())
                    ]  # fmt: skip
                    return self._reply({"object": "list", "data": found, "has_more": False})
                job = stub.jobs[url.path.rsplit("/", 1)[-1]]
                order = ["validating_files", "running", final_status]
                job["status"] = order[min(order.index(job["status"]) + 1, 2)]
                if job["status"] == "succeeded":
                    job["fine_tuned_model"] = f"ft:{job['model']}:prefsmith:{job['id']}"
                if job["status"] == "failed":
                    job["error"] = {"code": "invalid_file", "message": "bad line 3", "param": None}
                return self._reply(job)

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                if self.path == "/v1/files":
                    name = re.search(rb'filename="([^"]+)"', raw).group(1).decode()
                    purpose = re.search(rb'name="purpose"\r\n\r\n([^\r]+)', raw).group(1).decode()
                    stub.log.append(("POST", self.path, {"filename": name, "purpose": purpose}))
                    entry = {
                        "id": f"file-{len(stub.files)}", "object": "file", "bytes": len(raw),
                        "created_at": 0, "filename": name, "purpose": purpose, "status": "processed",
                    }  # fmt: skip
                    stub.files.append(entry)
                    return self._reply(entry)
                body = json.loads(raw)
                stub.log.append(("POST", self.path, body))
                job_id = f"ftjob-{len(stub.jobs)}"
                stub.jobs[job_id] = {
                    "id": job_id, "object": "fine_tuning.job", "created_at": 0,
                    "model": body["model"], "status": "validating_files",
                    "training_file": body["training_file"],
                    "validation_file": body.get("validation_file"),
                    "fine_tuned_model": None, "finished_at": None, "error": None,
                    "hyperparameters": {}, "organization_id": "org", "result_files": [],
                    "seed": 0, "trained_tokens": None, "metadata": body.get("metadata") or {},
                    "method": body.get("method"),
                }  # fmt: skip
                return self._reply(stub.jobs[job_id])

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def posts(self, path: str) -> list[Any]:
        return [body for method, p, body in self.log if method == "POST" and p == path]

    def close(self) -> None:
        self.server.shutdown()
