"""A stand-in for the Hugging Face Hub's HTTP API, answering in the real response shapes
and recording every request. The Hub can't be reached from here; this is its HTTP boundary.

Upload (`HfApi.create_repo` + `upload_folder`, legacy path: set
`huggingface_hub.constants.HF_HUB_DISABLE_XET`, this fake does not speak Xet):
- `POST /api/repos/create`, `POST /api/validate-yaml`;
- `POST /api/datasets/{repo}/preupload/{rev}`: `lfs` for the binary files the Hub's default
  `.gitattributes` sends to LFS (Parquet, PNG, ...), for files over 10 MB and for samples with
  a NUL byte, else `regular`;
- the LFS batch API `POST /datasets/{repo}.git/info/lfs/objects/batch`: an `upload` action
  to a signed storage URL (no Hub token, as S3's) and a `verify` action;
- `PUT` to that URL: the bytes are kept only if their sha256 and size are the oid's;
- `POST .../info/lfs/objects/verify`;
- `POST /api/datasets/{repo}/commit/{rev}` (NDJSON): `file` entries carry base64 content,
  `lfsFile` entries are accepted only for an oid that was uploaded (else 422, as the Hub).

Download (`HfApi.dataset_info`, `hf_hub_download`, `HfFileSystem`, `datasets.load_dataset`)
of the dataset repos in `repos` (`{repo_id: {path: bytes}}`, committed ones included):
`GET /api/datasets/{repo}[/revision/{rev}]`, `GET /api/datasets/{repo}/tree/{rev}[/{path}]`,
`POST /api/datasets/{repo}/paths-info/{rev}`, `HEAD|GET /datasets/{repo}/resolve/{rev}/{path}`.

With `token=`, every Hub API call without `Authorization: Bearer <token>` gets 401.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

# Suffixes the Hub's default .gitattributes tracks with LFS (the ones a dataset export makes
# and a few neighbours).
LFS_SUFFIXES = (".parquet", ".arrow", ".png", ".jpg", ".jpeg", ".gz", ".zip", ".bin", ".npy")
LFS_SIZE = 10 * 1024 * 1024  # the Hub refuses regular files over 10 MB
COMMIT = "0123abcd" * 5  # a 40-hex commit id


def _git_blob_oid(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class FakeHub:
    def __init__(
        self, repos: dict[str, dict[str, bytes]] | None = None, token: str | None = None
    ) -> None:
        self.token = token
        self.requests: list[dict] = []  # every request: method, path, auth, body
        self.repos: dict[str, dict[str, bytes]] = {k: dict(v) for k, v in (repos or {}).items()}
        self.files: dict[str, bytes] = {}  # every committed file, by path
        self.committed_as: dict[str, str] = {}  # committed path -> "file" | "lfsFile"
        self.upload_modes: dict[str, str] = {}  # path -> what the preupload answered
        self.lfs_objects: dict[str, bytes] = {}  # oid -> bytes PUT and checked
        self.lfs_verified: set[str] = set()
        self.unknown: list[str] = []  # requests the fake does not know (answered 404)
        self.rejected: list[str] = []  # why requests were refused (bad PUT, unknown oid)
        self._signatures: dict[str, tuple[str, int]] = {}  # upload signature -> (oid, size)
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _send(
                self, status: int, data: bytes, content_type: str, headers: dict | None = None
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            def _reply(self, status: int, body: object, headers: dict | None = None) -> None:
                self._send(status, json.dumps(body).encode(), "application/json", headers)

            def _error(self, status: int, message: str, code: str | None = None) -> None:
                if message.startswith("not faked"):
                    hub.unknown.append(message)
                headers = {"X-Error-Message": message}
                if code:  # huggingface_hub maps it to RepositoryNotFoundError, EntryNotFoundError
                    headers["X-Error-Code"] = code
                self._reply(status, {"error": message}, headers)

            def _record(self, body: bytes) -> None:
                hub.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "auth": self.headers.get("Authorization"),
                        "body": body,
                    }
                )

            def _authorized(self) -> bool:
                if hub.token is None or self.headers.get("Authorization") == f"Bearer {hub.token}":
                    return True
                self._error(401, "Invalid credentials in Authorization header")
                return False

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            # -- upload ------------------------------------------------------------------

            def do_POST(self) -> None:
                body = self._body()
                self._record(body)
                path = urlsplit(self.path).path
                if path.endswith("/info/lfs/objects/batch"):
                    return self._authorized() and self._lfs_batch(path, json.loads(body))
                if path.endswith("/info/lfs/objects/verify"):
                    return self._authorized() and self._lfs_verify(json.loads(body))
                if not self._authorized():
                    return None
                if path == "/api/repos/create":
                    spec = json.loads(body)
                    repo = f"{spec['organization']}/{spec['name']}"
                    hub.repos.setdefault(repo, {})
                    return self._reply(200, {"url": f"{hub.url}/datasets/{repo}"})
                if path == "/api/validate-yaml":
                    return self._reply(200, {"errors": [], "warnings": []})
                if "/preupload/" in path:
                    return self._preupload(json.loads(body)["files"])
                if "/commit/" in path:
                    repo = unquote(path.split("/api/datasets/")[1].split("/commit/")[0])
                    return self._commit(repo, body)
                if "/paths-info/" in path:
                    repo, _, _ = self._repo_rev_rest(path, "/paths-info/")
                    if repo not in hub.repos:
                        return self._error(404, "Repository not found", "RepoNotFound")
                    form = parse_qs(body.decode())
                    files = hub.repos[repo]
                    entries = [self._entry(files, p) for p in form.get("paths", [])]
                    return self._reply(200, [e for e in entries if e is not None])
                return self._error(404, f"not faked: POST {self.path}")

            def _preupload(self, files: list[dict]) -> None:
                answers = []
                for f in files:
                    sample = base64.b64decode(f.get("sample", ""))
                    lfs = (
                        f["path"].lower().endswith(LFS_SUFFIXES)
                        or f["size"] > LFS_SIZE
                        or b"\0" in sample
                    )
                    mode = "lfs" if lfs else "regular"
                    hub.upload_modes[f["path"]] = mode
                    answers.append({"path": f["path"], "uploadMode": mode, "shouldIgnore": False})
                self._reply(200, {"files": answers})

            def _lfs_batch(self, path: str, request: dict) -> None:
                if request.get("operation") != "upload" or "basic" not in request["transfers"]:
                    return self._error(422, "only basic uploads are faked")
                objects = []
                for obj in request["objects"]:
                    oid, size = obj["oid"], obj["size"]
                    if oid in hub.lfs_objects:  # already stored: nothing to do
                        objects.append({"oid": oid, "size": size})
                        continue
                    signature = secrets.token_hex(8)
                    hub._signatures[signature] = (oid, size)
                    repo_git = path.removesuffix("/info/lfs/objects/batch")
                    objects.append(
                        {
                            "oid": oid,
                            "size": size,
                            "authenticated": True,
                            "actions": {
                                "upload": {
                                    "href": f"{hub.url}/lfs-storage/{oid}?X-Amz-Signature={signature}",
                                    "expires_at": "2099-01-01T00:00:00Z",
                                },
                                "verify": {"href": f"{hub.url}{repo_git}/info/lfs/objects/verify"},
                            },
                        }
                    )
                self._reply(
                    200,
                    {"transfer": "basic", "objects": objects, "hash_algo": "sha256"},
                    {"Content-Type": "application/vnd.git-lfs+json"},
                )

            def _lfs_verify(self, request: dict) -> None:
                data = hub.lfs_objects.get(request["oid"])
                if data is None or len(data) != request["size"]:
                    hub.rejected.append(f"verify of unknown object {request['oid']}")
                    return self._error(404, "Object not found")
                hub.lfs_verified.add(request["oid"])
                return self._reply(200, {"success": True})

            def do_PUT(self) -> None:
                body = self._body()
                self._record(body)
                url = urlsplit(self.path)
                signature = parse_qs(url.query).get("X-Amz-Signature", [""])[0]
                expected = hub._signatures.get(signature)
                oid = url.path.removeprefix("/lfs-storage/")
                if expected is None or expected[0] != oid:
                    hub.rejected.append(f"PUT without a valid signature: {self.path}")
                    return self._error(403, "SignatureDoesNotMatch")
                if hashlib.sha256(body).hexdigest() != oid or len(body) != expected[1]:
                    hub.rejected.append(f"PUT content is not object {oid}")
                    return self._error(400, "BadDigest")
                hub.lfs_objects[oid] = body
                self._send(200, b"", "text/plain", {"ETag": f'"{oid[:32]}"'})

            def _commit(self, repo: str, body: bytes) -> None:
                if repo not in hub.repos:
                    return self._error(404, "Repository not found", "RepoNotFound")
                staged: dict[str, tuple[str, bytes]] = {}
                for line in body.splitlines():
                    entry = json.loads(line)
                    key, value = entry["key"], entry["value"]
                    if key == "file":
                        staged[value["path"]] = ("file", base64.b64decode(value["content"]))
                    elif key == "lfsFile":
                        data = hub.lfs_objects.get(value["oid"])
                        if data is None or len(data) != value.get("size", len(data)):
                            why = f"lfsFile {value['path']}: oid {value['oid']} was not uploaded"
                            hub.rejected.append(why)
                            return self._error(422, f"Your push was rejected: {why}")
                        staged[value["path"]] = ("lfsFile", data)
                    elif key != "header":
                        return self._error(422, f"not faked: commit entry {key}")
                for path, (kind, data) in staged.items():
                    hub.repos[repo][path] = data
                    hub.files[path] = data
                    hub.committed_as[path] = kind
                commit_url = f"{hub.url}/datasets/{repo}/commit/{COMMIT}"
                return self._reply(200, {"commitUrl": commit_url, "commitOid": COMMIT})

            # -- download ----------------------------------------------------------------

            def _repo_rev_rest(self, path: str, marker: str) -> tuple[str, str, str]:
                """`/api/datasets/ORG/NAME{marker}REV[/REST]` -> (repo, rev, rest)."""
                repo, _, tail = path.removeprefix("/api/datasets/").partition(marker)
                rev, _, rest = unquote(tail).partition("/")
                return unquote(repo), rev, rest

            def _entry(self, files: dict[str, bytes], path: str) -> dict | None:
                path = path.strip("/")
                if path in files:
                    data = files[path]
                    entry = {
                        "type": "file",
                        "oid": _git_blob_oid(data),
                        "size": len(data),
                        "path": path,
                    }
                    if path.lower().endswith(LFS_SUFFIXES):
                        sha = hashlib.sha256(data).hexdigest()
                        entry["lfs"] = {"oid": sha, "size": len(data), "pointerSize": 134}
                    return entry
                if path == "" or any(p.startswith(path + "/") for p in files):
                    return {
                        "type": "directory",
                        "oid": _git_blob_oid(path.encode()),
                        "size": 0,
                        "path": path,
                    }
                return None

            def _tree(self, files: dict[str, bytes], folder: str, recursive: bool) -> list[dict]:
                prefix = folder.strip("/") + "/" if folder.strip("/") else ""
                paths: set[str] = set()
                for name in files:
                    if not name.startswith(prefix):
                        continue
                    parts = name[len(prefix) :].split("/")
                    for depth in range(1, len(parts) + 1 if recursive else 2):
                        paths.add(prefix + "/".join(parts[:depth]))
                return [self._entry(files, p) for p in sorted(paths)]

            def _info(self, repo: str) -> dict:
                files = hub.repos[repo]
                return {
                    "_id": hashlib.md5(repo.encode()).hexdigest()[:24],
                    "id": repo,
                    "author": repo.split("/")[0],
                    "sha": COMMIT,
                    "lastModified": "2024-01-01T00:00:00.000Z",
                    "createdAt": "2024-01-01T00:00:00.000Z",
                    "private": False,
                    "gated": False,
                    "disabled": False,
                    "downloads": 0,
                    "likes": 0,
                    "tags": [],
                    "cardData": {},
                    "siblings": [{"rfilename": p} for p in sorted(files)],
                }

            def do_HEAD(self) -> None:
                self.do_GET()

            def do_GET(self) -> None:
                self._record(b"")
                url = urlsplit(self.path)
                path = url.path
                query = parse_qs(url.query)
                if not self._authorized():
                    return None
                if path == "/api/agent-harnesses":  # huggingface_hub's optional registry
                    return self._error(404, "Not Found")
                if path.startswith("/api/datasets/"):
                    if "/tree/" in path:
                        repo, _, folder = self._repo_rev_rest(path, "/tree/")
                        if repo not in hub.repos:
                            return self._error(404, "Repository not found", "RepoNotFound")
                        if folder and self._entry(hub.repos[repo], folder) is None:
                            return self._error(404, "Entry not found", "EntryNotFound")
                        recursive = query.get("recursive", ["false"])[0].lower() == "true"
                        return self._reply(200, self._tree(hub.repos[repo], folder, recursive))
                    repo = unquote(path.removeprefix("/api/datasets/").split("/revision/")[0])
                    if repo not in hub.repos:
                        return self._error(404, "Repository not found", "RepoNotFound")
                    return self._reply(200, self._info(repo))
                if path.startswith("/datasets/") and "/resolve/" in path:
                    repo, _, tail = path.removeprefix("/datasets/").partition("/resolve/")
                    repo = unquote(repo)
                    _, _, file = unquote(tail).partition("/")
                    if repo not in hub.repos:
                        return self._error(404, "Repository not found", "RepoNotFound")
                    data = hub.repos[repo].get(file)
                    if data is None:
                        self.send_response(404)
                        self.send_header("X-Error-Code", "EntryNotFound")
                        self.send_header("X-Repo-Commit", COMMIT)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return None
                    etag = (
                        hashlib.sha256(data).hexdigest()
                        if file.lower().endswith(LFS_SUFFIXES)
                        else _git_blob_oid(data)
                    )
                    headers = {
                        "X-Repo-Commit": COMMIT,
                        "ETag": f'"{etag}"',
                        "Accept-Ranges": "bytes",
                    }
                    ranged = self.headers.get("Range")
                    if ranged and ranged.startswith("bytes="):
                        start_s, _, end_s = ranged.removeprefix("bytes=").partition("-")
                        start = int(start_s or 0)
                        end = min(int(end_s), len(data) - 1) if end_s else len(data) - 1
                        headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
                        return self._send(
                            206, data[start : end + 1], "application/octet-stream", headers
                        )
                    return self._send(200, data, "application/octet-stream", headers)
                return self._error(404, f"not faked: GET {self.path}")

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def point_huggingface_at(hub: FakeHub, monkeypatch, cache: Path) -> None:
    """Send this process's `huggingface_hub` and `datasets` to `hub`, online, with caches under
    `cache`: both read HF_ENDPOINT, the offline flags and cache paths when imported, so the
    environment alone is too late (conftest turns HF_HUB_OFFLINE on for the session)."""
    import datasets.config
    import huggingface_hub.constants as hf

    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "0")
    monkeypatch.setattr(hf, "ENDPOINT", hub.url)
    monkeypatch.setattr(
        hf, "HUGGINGFACE_CO_URL_TEMPLATE", hub.url + "/{repo_id}/resolve/{revision}/{filename}"
    )
    monkeypatch.setattr(hf, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hf, "HF_HUB_DISABLE_XET", True)  # the fake speaks LFS, not Xet
    monkeypatch.setattr(hf, "HF_HUB_CACHE", str(cache / "hub"))
    monkeypatch.setattr(datasets.config, "HF_ENDPOINT", hub.url)
    monkeypatch.setattr(
        datasets.config,
        "HUB_DATASETS_URL",
        hub.url + "/datasets/{repo_id}/resolve/{revision}/{path}",
    )
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", False)
    for name in ("HF_DATASETS_CACHE", "DOWNLOADED_DATASETS_PATH", "EXTRACTED_DATASETS_PATH"):
        monkeypatch.setattr(datasets.config, name, cache / "datasets" / name.lower())
