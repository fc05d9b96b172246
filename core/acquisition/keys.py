"""API keys and tokens: found at run time, used in memory, never shown, stored only in the OS keyring.

Order of lookup: the explicit value (``--key`` / ``--token``), then an environment variable, then the OS
keyring (the `keyring` package: macOS Keychain, Windows Credential Locker, Secret Service on Linux).
A user stores a key once with ``keyring set geospottr google_maps_api_key``, or lets the desktop app do
it (`store_secret`; `delete_secret` forgets it). Keys never go into the
project, events or error messages: `redact` scrubs any text that could echo a URL, and
`redact_http_logs` scrubs urllib3's debug log lines, which print request URLs with their query string.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from typing import Iterable

#: Service name under which GeoSpottr looks for secrets in the OS keyring.
KEYRING_SERVICE = "geospottr"


@dataclass(frozen=True)
class SecretSpec:
    """Where one secret may come from: its environment variable and its keyring user name."""

    label: str       # what a user calls it in an error message
    env_var: str
    keyring_user: str


GOOGLE_KEY = SecretSpec("Google Maps API key", "GOOGLE_MAPS_API_KEY", "google_maps_api_key")
GOOGLE_SIGNING_SECRET = SecretSpec("URL signing secret", "GOOGLE_MAPS_SIGNING_SECRET", "google_maps_signing_secret")
MAPILLARY_TOKEN = SecretSpec("Mapillary access token", "MAPILLARY_ACCESS_TOKEN", "mapillary_access_token")


def _from_keyring(user: str) -> str | None:
    """The keyring's value, or None when no keyring backend works here (headless Linux, CI)."""
    try:
        import keyring
        from keyring.errors import KeyringError

        try:
            return keyring.get_password(KEYRING_SERVICE, user) or None
        except KeyringError:
            return None
    except Exception:  # noqa: BLE001 - a broken keyring backend must not stop a user who has an env var
        return None


def store_secret(spec: SecretSpec, value: str) -> bool:
    """Save `value` in the OS keyring where `find_secret` looks; False when no keyring backend works here.

    May block on a desktop unlock prompt, so a GUI calls it from a worker.
    """
    try:
        import keyring

        keyring.set_password(KEYRING_SERVICE, spec.keyring_user, value.strip())
    except Exception:  # noqa: BLE001 - headless Linux has no backend; the key still works this session
        return False
    return True


def delete_secret(spec: SecretSpec) -> bool:
    """Remove the secret from the OS keyring; False when none was stored or no keyring backend works."""
    try:
        import keyring

        keyring.delete_password(KEYRING_SERVICE, spec.keyring_user)
    except Exception:  # noqa: BLE001 - PasswordDeleteError (nothing stored) or no backend
        return False
    return True


def find_secret(spec: SecretSpec, explicit: str | None = None, use_keyring: bool = True) -> str | None:
    """The secret from `explicit`, else ``$env_var``, else (with `use_keyring`) the OS keyring; None if none
    is set. The keyring package is imported only when it is asked: loading it probes for backends (it runs
    ldconfig, gcc and ld on Linux and leaves temp files), which a user who gave ``--key`` never asked for."""
    return lookup_secret(spec, explicit, use_keyring)[0]


def lookup_secret(spec: SecretSpec, explicit: str | None = None,
                  use_keyring: bool = True) -> tuple[str | None, bool]:
    """(`find_secret`'s answer, whether it came from the OS keyring)."""
    for value in (explicit, os.environ.get(spec.env_var)):
        if value and value.strip():
            return value.strip(), False
    if not use_keyring:
        return None, False
    value = _from_keyring(spec.keyring_user)
    return value, value is not None


#: Query parameters that carry a credential or a signature made from one, whatever their value.
_SECRET_PARAMS = re.compile(r"(?i)([?&;](?:key|signature|access_token|token|client_secret)=)[^&#\s\"'<>]+")


def _secret_pattern(secret: str) -> re.Pattern[str]:
    """Matches `secret` written plainly, URL-encoded, or any mix (``AIza+k%2Fy``): each character may
    appear as itself or as the %XX escapes of its UTF-8 bytes (a space also as ``+``)."""
    parts = []
    for char in secret:
        escaped = "".join(f"%{byte:02x}" for byte in char.encode("utf-8"))
        options = [re.escape(char), escaped] + (["\\+"] if char == " " else [])
        parts.append("(?:" + "|".join(options) + ")")
    return re.compile("".join(parts), re.IGNORECASE)


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """`text` with every secret replaced by ``***`` (for anything that may reach a user or a log): each
    secret as written, URL-encoded or half-encoded (``+`` ``/`` ``=`` become ``%2B`` ``%2F`` ``%3D`` in a
    query), and the value of any ``key=`` / ``signature=`` / ``access_token=`` query parameter (a URL
    signature is derived from the signing secret, so it never equals the secret itself)."""
    for secret in secrets:
        if secret:
            text = _secret_pattern(secret).sub("***", text)
    return _SECRET_PARAMS.sub(r"\1***", text)


class _RedactingFilter(logging.Filter):
    def __init__(self, secrets: tuple[str, ...]) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message, self.secrets)
        if clean != message:
            record.msg, record.args = clean, None
        return True


#: Loggers that print request URLs (with the key in the query string) at DEBUG level.
_URL_LOGGERS = ("urllib3.connectionpool",)


class redact_http_logs:
    """Context manager: while active, urllib3's log records have `secrets` replaced by ``***``."""

    def __init__(self, secrets: Iterable[str | None]) -> None:
        self._filter = _RedactingFilter(tuple(s for s in secrets if s))

    def __enter__(self) -> "redact_http_logs":
        for name in _URL_LOGGERS:
            logging.getLogger(name).addFilter(self._filter)
        return self

    def __exit__(self, *exc: object) -> None:
        for name in _URL_LOGGERS:
            logging.getLogger(name).removeFilter(self._filter)
