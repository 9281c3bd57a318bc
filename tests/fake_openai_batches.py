"""A stand-in for OpenAI's Files and Batch APIs on loopback, the way the `openai` package calls
them: multipart `POST /v1/files`, `GET /v1/files` (a cursor page), `GET /v1/files/ID/content`,
`POST /v1/batches`, `GET /v1/batches/ID`, `GET /v1/batches` (a cursor page).

Batches run only when the test says so (`finish`, `expire`, `fail`): each input line's
body goes through `reply(body)` -> (HTTP status, JSON body), as FakeOpenAI's replies.
`hang_on` ("files.create", "batches.create" or "files.content") makes the server do that
step, set `hung`, and never answer: the test then kills the client, at that very moment;
`refuse[step] = STATUS` answers that step with an error instead.
Every request is kept in `log` as (method, path, headers, body)."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fake_openai import QuietServer


class FakeBatchAPI:
    def __init__(self, reply: Callable[[dict[str, Any]], tuple[int, Any]]) -> None:
        self.reply = reply
        self.files: dict[str, dict[str, Any]] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.log: list[tuple[str, str, dict[str, str], Any]] = []
        self.hang_on: str | None = None
        self.refuse: dict[str, int] = {}  # step -> the HTTP status it answers instead
        self.hung = threading.Event()
        self._ids = itertools.count(1)
        self._closing = threading.Event()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _send(self, status: int, data: Any) -> None:
                raw = data if isinstance(data, bytes) else json.dumps(data).encode()
                self.send_response(status)
                kind = "application/octet-stream" if isinstance(data, bytes) else "application/json"
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _hang_if(self, step: str) -> bool:
                if stub.hang_on == step:
                    stub.hung.set()
                    stub._closing.wait()  # the client is killed while it waits for this answer
                    return True
                return False

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                headers = {k.lower(): v for k, v in self.headers.items()}
                stub.log.append(("GET", url.path, headers, parse_qs(url.query)))
                parts = url.path.strip("/").split("/")  # v1, files|batches, [id], [content]
                if parts[1:] == ["files"]:
                    purpose = parse_qs(url.query).get("purpose", [None])[0]
                    data = [
                        f["object"]
                        for f in stub.files.values()
                        if purpose in (None, f["object"]["purpose"])
                    ]
                    return self._send(200, {"object": "list", "data": data, "has_more": False})
                if parts[1] == "files" and parts[3:] == ["content"]:
                    if self._hang_if("files.content"):
                        return None
                    return self._send(200, stub.files[parts[2]]["content"])
                if parts[1:] == ["batches"]:
                    data = sorted(stub.batches.values(), key=lambda b: -b["created_at"])
                    return self._send(200, {"object": "list", "data": data, "has_more": False})
                if parts[1] == "batches" and len(parts) == 3 and parts[2] in stub.batches:
                    return self._send(200, stub.batches[parts[2]])
                return self._send(404, {"error": {"message": f"no route {url.path}"}})

            def do_POST(self) -> None:
                url = urlsplit(self.path)
                headers = {k.lower(): v for k, v in self.headers.items()}
                body = self.rfile.read(int(self.headers["Content-Length"]))
                step = {"/v1/files": "files.create", "/v1/batches": "batches.create"}.get(url.path)
                if step in stub.refuse:
                    stub.log.append(("POST", url.path, headers, None))
                    return self._send(
                        stub.refuse[step], {"error": {"message": "Incorrect API key"}}
                    )
                if url.path == "/v1/files":
                    form = stub._multipart(headers["content-type"], body)
                    stub.log.append(("POST", url.path, headers, form))
                    file = stub._add_file(
                        form["file"][1], form["file"][0], form["purpose"][1].decode()
                    )
                    if self._hang_if("files.create"):
                        return None
                    return self._send(200, file)
                payload = json.loads(body)
                stub.log.append(("POST", url.path, headers, payload))
                if url.path == "/v1/batches":
                    batch = stub._create_batch(payload)
                    if self._hang_if("batches.create"):
                        return None
                    return self._send(200, batch)
                return self._send(404, {"error": {"message": f"no route {url.path}"}})

            def log_message(self, *args: object) -> None:
                pass

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    # --- server side ----------------------------------------------------------------------

    @staticmethod
    def _multipart(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes]]:
        message = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + body
        )
        return {
            part.get_param("name", header="content-disposition"): (
                part.get_filename(),
                part.get_payload(decode=True),
            )
            for part in message.iter_parts()
        }

    def _add_file(self, content: bytes, filename: str | None, purpose: str) -> dict[str, Any]:
        file_id = f"file-{next(self._ids)}"
        info = {
            "id": file_id, "object": "file", "bytes": len(content), "created_at": int(time.time()),
            "filename": filename, "purpose": purpose, "status": "processed",
        }  # fmt: skip
        self.files[file_id] = {"object": info, "content": content}
        return info

    def _create_batch(self, payload: dict[str, Any]) -> dict[str, Any]:
        batch_id = f"batch_{next(self._ids)}"
        lines = self.files[payload["input_file_id"]]["content"].decode().splitlines()
        self.batches[batch_id] = {
            "id": batch_id, "object": "batch", "endpoint": payload["endpoint"],
            "input_file_id": payload["input_file_id"], "completion_window": payload["completion_window"],
            "status": "in_progress", "created_at": time.time_ns(), "metadata": payload.get("metadata"),
            "output_file_id": None, "error_file_id": None, "errors": None,
            "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
        }  # fmt: skip
        return self.batches[batch_id]

    # --- what the test does -----------------------------------------------------------------

    def finish(self, status: str = "completed", answered: int | None = None) -> None:
        """Run every batch in progress: all its lines (or the first `answered`)."""
        for batch in self.batches.values():
            if batch["status"] != "in_progress":
                continue
            lines = self.files[batch["input_file_id"]]["content"].decode().splitlines()
            out, errors = [], []
            for index, line in enumerate(map(json.loads, lines)):
                if answered is not None and index >= answered:
                    errors.append({"id": f"r{index}", "custom_id": line["custom_id"], "response": None,
                                   "error": {"code": "batch_expired", "message": "expired"}})  # fmt: skip
                    continue
                code, body = self.reply(line["body"])
                row = {"id": f"r{index}", "custom_id": line["custom_id"],
                       "response": {"status_code": code, "request_id": f"q{index}", "body": body},
                       "error": None}  # fmt: skip
                (out if code == 200 else errors).append(row)
            for name, rows in (("output_file_id", out), ("error_file_id", errors)):
                if rows:
                    text = "".join(json.dumps(row) + "\n" for row in rows).encode()
                    batch[name] = self._add_file(text, None, "batch_output")["id"]
            batch["status"] = status
            batch["request_counts"] = {
                "total": len(lines),
                "completed": len(out),
                "failed": len(errors),
            }

    def fail(self) -> None:
        """Fail every batch in progress at validation: no output at all."""
        for batch in self.batches.values():
            if batch["status"] == "in_progress":
                batch["status"] = "failed"
                batch["errors"] = {
                    "object": "list",
                    "data": [{"code": "invalid", "message": "bad file"}],
                }

    def count(self, method: str, path: str) -> int:
        return sum(1 for m, p, _, _ in self.log if m == method and p == path)

    def close(self) -> None:
        self._closing.set()
        self.server.shutdown()
