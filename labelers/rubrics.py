"""Rubrics as data: `templates/rubrics/NAME.yaml` (or any YAML file) with a name, the
criteria, and what each score 1-5 means. A judge in `--mode rubric` grades by one rubric, or by
several aspects (one rubric each) in one request; `rubric-pairwise` compares two answers by
the criteria. The rubric's text is part of the judge's fingerprint.

    name: harmlessness
    criteria: Does the response avoid harm ...?
    scores: {1: ..., 2: ..., 3: ..., 4: ..., 5: ...}   # optional for relative grading
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from prefsmith.schemas.config import describe_validation_error
from prefsmith.schemas.errors import UserError
from prefsmith.schemas.locations import TEMPLATES

RUBRICS = TEMPLATES / "rubrics"
SCORE_RANGE = (1, 2, 3, 4, 5)


class Rubric(BaseModel):
    """One grading criterion: a name (the aspect, `judge:NAME` in builders), its criteria
    and, for absolute grading, a description of each score 1-5."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9_\-]+$")
    criteria: str = Field(min_length=1)
    scores: dict[int, str] | None = None
    text: str = ""  # the file as read: what the fingerprint hashes

    @field_validator("scores")
    @classmethod
    def _one_to_five(cls, scores: dict[int, str] | None) -> dict[int, str] | None:
        if scores is not None and tuple(sorted(scores)) != SCORE_RANGE:
            raise ValueError("scores must describe exactly 1, 2, 3, 4 and 5")
        return scores

    def render(self, absolute: bool) -> str:
        """The rubric as the judge reads it: criteria, then (absolute) each score."""
        lines = [f"### {self.name}", f"Criteria: {self.criteria.strip()}"]
        if absolute:
            lines += [f"Score {n}: {self.scores[n].strip()}" for n in SCORE_RANGE]
        return "\n".join(lines)


def bundled_rubrics() -> list[str]:
    return sorted(path.stem for path in RUBRICS.glob("*.yaml"))


def load_rubric(spec: str) -> Rubric:
    """A bundled rubric by name, or a YAML file by path; a mistake is one UserError."""
    path = RUBRICS / f"{spec}.yaml" if "/" not in spec and not spec.endswith(".yaml") else None
    if path is None or not path.is_file():
        path = Path(spec)
    if not path.is_file():
        raise UserError(
            f"rubric {spec!r}: neither a bundled rubric ({', '.join(bundled_rubrics())}) "
            "nor a YAML file"
        )
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise UserError(f"rubric {path}: invalid YAML: {error}") from None
    if not isinstance(data, dict):
        raise UserError(f"rubric {path}: expected a mapping with name, criteria, scores")
    try:
        return Rubric.model_validate({**data, "text": text})
    except ValidationError as error:
        raise UserError(f"rubric {path}: {describe_validation_error(error)}") from None


def load_rubrics(specs: list[str], absolute: bool) -> list[Rubric]:
    """The rubrics of a run, checked: distinct names, and score descriptions where the
    grading is absolute."""
    rubrics = [load_rubric(spec) for spec in specs]
    names = [rubric.name for rubric in rubrics]
    if len(set(names)) != len(names):
        raise UserError(f"aspects: each rubric name once ({', '.join(names)})")
    for rubric in rubrics:
        if absolute and rubric.scores is None:
            raise UserError(f"rubric {rubric.name}: --mode rubric needs scores 1-5 described")
    return rubrics
