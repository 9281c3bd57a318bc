"""The connection to a Label Studio server: where, with which token, and one clear error
each for an unreachable server, a rejected token and a missing project.

LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY come from the environment. Both legacy
tokens and personal access tokens work (the SDK exchanges a PAT for access tokens).
"""

from __future__ import annotations

import json
import os
from typing import Any

from prefsmith.schemas import locations
from prefsmith.schemas.errors import UserError

TEMPLATES = locations.TEMPLATES / "label_studio"


def label_config(template: str) -> str:
    path = TEMPLATES / f"{template}.xml"
    if not path.is_file():
        raise UserError(f"--template must be ranker or pairwise, not {template!r}")
    return path.read_text()


class LabelStudio:
    """A thin wrapper over the SDK for what prefsmith needs, with user-facing errors."""

    def __init__(self, url: str | None = None, api_key: str | None = None) -> None:
        self.url = (url or os.environ.get("LABEL_STUDIO_URL") or "").rstrip("/")
        key = api_key or os.environ.get("LABEL_STUDIO_API_KEY")
        if not self.url:
            raise UserError("LABEL_STUDIO_URL is not set (e.g. http://localhost:8080)")
        if not key:
            raise UserError("LABEL_STUDIO_API_KEY is not set (Account & Settings > Access Token)")
        from label_studio_sdk import LabelStudio as Client

        self.client = Client(base_url=self.url, api_key=key, timeout=120)

    def call(self, function: Any, *args: Any, **kwargs: Any) -> Any:
        """Run an SDK call; a connection failure or a rejected token becomes one line."""
        import httpx
        from label_studio_sdk.core.api_error import ApiError

        try:
            return function(*args, **kwargs)
        except httpx.TransportError as error:
            raise UserError(f"cannot reach Label Studio at {self.url} ({error})") from None
        except ApiError as error:
            if error.status_code in (401, 403):
                raise UserError(
                    f"Label Studio at {self.url} rejected the token in LABEL_STUDIO_API_KEY "
                    f"(HTTP {error.status_code})"
                ) from None
            raise UserError(
                f"Label Studio answered HTTP {error.status_code}: {str(error.body)[:300]}"
            ) from None

    def check(self) -> dict[str, Any]:
        """Who the token belongs to; fails fast on a bad URL or token."""
        return self.call(self.client.users.whoami).dict()

    def find_project(self, title: str) -> Any | None:
        for project in self.call(lambda: list(self.client.projects.list(title=title))):
            if project.title == title:
                return project
        return None

    def project(self, title: str, template: str | None = None) -> Any:
        """The project titled `title`; created with `template` if given and missing."""
        found = self.find_project(title)
        if found is not None:
            return found
        if template is None:
            raise UserError(f"no Label Studio project titled {title!r} at {self.url}")
        return self.call(
            self.client.projects.create, title=title, label_config=label_config(template)
        )

    def export_tasks(self, project_id: int) -> list[dict[str, Any]]:
        """Every task of a project with its annotations (the server's own JSON export)."""
        chunks = self.call(
            lambda: list(
                self.client.projects.exports.download_sync(
                    project_id, export_type="JSON", download_all_tasks=True
                )
            )
        )
        return json.loads(b"".join(chunks) or b"[]")

    def import_tasks(self, project_id: int, tasks: list[dict[str, Any]], chunk: int = 2000) -> int:
        """Bulk import, in requests of `chunk` tasks (a request per 10,000 would time out)."""
        created = 0
        for start in range(0, len(tasks), chunk):
            batch = tasks[start : start + chunk]
            reply = self.call(self.client.projects.import_tasks, project_id, request=batch)
            created += reply.task_count if reply.task_count is not None else len(batch)
        return created

    def user_emails(self) -> dict[int, str]:
        return {user.id: user.email for user in self.call(lambda: list(self.client.users.list()))}
