"""PII redaction by well-tested patterns: e-mail addresses, phone numbers, IP addresses,
credit-card numbers (Luhn-checked) and secrets shaped like API keys become typed placeholders.

Patterns rather than an NLP model (presidio's recognizers for these types are patterns too, and
it needs a spaCy model that cannot be downloaded here). Look-alikes survive: dates
(`2024-01-15`), version numbers (`v1.2.3`, `3.11.7`), order numbers that fail the Luhn check.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

PLACEHOLDERS = {
    "email": "<EMAIL>",
    "credit_card": "<CREDIT_CARD>",
    "secret": "<SECRET>",
    "ip_address": "<IP_ADDRESS>",
    "phone": "<PHONE>",
}

_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"
)
_SECRET = re.compile(
    r"\bsk-(?:proj-|ant-)?[A-Za-z0-9_\-]{20,}"  # OpenAI, Anthropic
    r"|\bhf_[A-Za-z0-9]{30,}"  # Hugging Face
    r"|\bgh[pousr]_[A-Za-z0-9]{30,}"  # GitHub
    r"|\bxox[baprs]-[A-Za-z0-9-]{10,}"  # Slack
    r"|\bAKIA[0-9A-Z]{16}\b"  # AWS access key id
    r"|\bAIza[0-9A-Za-z_\-]{35}"  # Google API key
    r"|-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----[\s\S]*?-----END (?:[A-Z]+ )?PRIVATE KEY-----"
)
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = re.compile(rf"(?<![\w.])(?<![vV]){_OCTET}(?:\.{_OCTET}){{3}}(?![\w.]*\d)(?!\.\w)")
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}(?![\w:])")
_CARD = re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w-])")
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]\d{2,4}){1,4}(?![\w-])"
)


def luhn_valid(digits: str) -> bool:
    total, parity = 0, len(digits) % 2
    for index, char in enumerate(digits):
        value = int(char)
        if index % 2 == parity:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _card(found: re.Match[str]) -> bool:
    digits = re.sub(r"\D", "", found.group(0))
    return 13 <= len(digits) <= 19 and luhn_valid(digits)


def _phone(found: re.Match[str]) -> bool:
    text = found.group(0)
    digits = re.sub(r"\D", "", text)
    if not 10 <= len(digits) <= 15:
        return False
    if re.fullmatch(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}", text):  # an ISO date
        return False
    separated = bool(re.search(r"[ .()+-]", text))
    return separated and not re.fullmatch(r"\d+(?:\.\d+)+", text)  # not a version or decimal


CHECKS: list[tuple[str, re.Pattern[str], Callable[[re.Match[str]], bool] | None]] = [
    ("secret", _SECRET, None),
    ("email", _EMAIL, None),
    ("credit_card", _CARD, _card),
    ("ip_address", _IPV4, None),
    ("ip_address", _IPV6, None),
    ("phone", _PHONE, _phone),
]


def redact(text: str, counts: Counter[str] | None = None) -> str:
    """`text` with each PII value replaced by its type's placeholder; `counts` gets the
    number of values replaced per type."""
    for kind, pattern, accept in CHECKS:

        def replace(found: re.Match[str], kind: str = kind, accept=accept) -> str:
            if accept is not None and not accept(found):
                return found.group(0)
            if counts is not None:
                counts[kind] += 1
            return PLACEHOLDERS[kind]

        text = pattern.sub(replace, text)
    return text
