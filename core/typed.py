"""Typed readers: every file (and stored JSON value) the app reads is parsed here, and any damage becomes
one `GeoSpottrError` line naming the file, never a raw ``JSONDecodeError``, ``AttributeError`` (a list
where an object belongs), ``OverflowError`` (a pid of 2**70), ``RecursionError`` (``[[[[...`` nested a
million deep), ``TypeError`` (a naive time compared with an aware one) or ``UnicodeDecodeError``.

Two layers:

* `read_json` / `parse_json`: bytes -> JSON value, through `fsutil.read_regular` (a FIFO, a device, a
  huge file: refused before anything is read), strict UTF-8, too deep nesting refused.
* `Fields`: typed access to a JSON object's members (`str`, `int` with bounds, finite `float`, `bool`,
  `time` as an aware datetime, `strings`), each failure naming the source and the key.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, TypeAlias

from .errors import GeoSpottrError
from .fsutil import read_regular

#: Cap of small JSON files (config.json, status.json, control.json, cities.json): none comes near it.
SMALL_JSON_BYTES = 4 * 1024 * 1024
_LONGEST_REPR = 60


#: The builtins under other names: `Fields` has methods called str, int, float, bool and list.
_Str: TypeAlias = str
_Int: TypeAlias = int
_Float: TypeAlias = float
_Bool: TypeAlias = bool
_List: TypeAlias = list


class DamagedFile(GeoSpottrError):
    """A file (or stored value) exists but its content cannot be used; the message names it."""


def short(value: Any) -> str:
    """`repr(value)` cut to a length a one-line message can carry."""
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a value so odd that repr fails (recursion) still gets a message
        text = f"<{type(value).__name__}>"
    return text if len(text) <= _LONGEST_REPR else text[:_LONGEST_REPR - 3] + "..."


def parse_json(data: str | bytes, source: str) -> Any:
    """The JSON value of `data` (UTF-8 when bytes); `DamagedFile` naming `source` on any damage."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise DamagedFile(f"{source}: not UTF-8 text (byte {exc.start}); the file is damaged") from None
    try:
        return json.loads(data)
    except RecursionError:
        raise DamagedFile(f"{source}: JSON nested too deeply, refused") from None
    except ValueError as exc:
        where = f" (line {exc.lineno}, column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
        msg = exc.msg if isinstance(exc, json.JSONDecodeError) else "invalid"
        raise DamagedFile(f"{source}: not valid JSON: {msg}{where}; the file is damaged") from None


def read_json(path: Path | str, what: str = "JSON file", max_bytes: int = SMALL_JSON_BYTES,
              missing: Any = ...) -> Any:
    """The JSON value in file `path` (a regular file under `max_bytes`). A missing file returns `missing`
    when given, else is an error like any other damage."""
    path = Path(path)
    if missing is not ... and not _exists(path):
        return missing
    return parse_json(read_regular(path, max_bytes, what), str(path))


def read_object(path: Path | str, what: str = "JSON file", max_bytes: int = SMALL_JSON_BYTES,
                missing: Mapping[str, Any] | None = None) -> "Fields":
    """`read_json` that must be a JSON object, as `Fields`; a missing file gives `missing` (when not None)."""
    value = read_json(path, what, max_bytes, ... if missing is None else dict(missing))
    return Fields(value, str(path))


def _exists(path: Path) -> bool:
    try:
        path.lstat()
    except (OSError, ValueError):
        return False
    return True


def aware_time(value: Any, source: str = "", key: str = "time") -> datetime:
    """An ISO-8601 time as an aware datetime; a naive one is taken as UTC (what GeoSpottr writes)."""
    if not isinstance(value, str):
        raise DamagedFile(f"{source}: {key} must be an ISO time, not {short(value)}")
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise DamagedFile(f"{source}: {key} is not an ISO time: {short(value)}") from None
    return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)


class Fields:
    """Typed members of one JSON object read from `source` (a file name, or ``db setting 'x'``)."""

    def __init__(self, data: Any, source: str) -> None:
        if not isinstance(data, dict):
            raise DamagedFile(f"{source}: expected a JSON object, found {_kind(data)}; the file is damaged")
        self.data, self.source = data, source

    def __contains__(self, key: _Str) -> _Bool:
        return self.data.get(key) is not None

    def _bad(self, key: _Str, want: _Str) -> DamagedFile:
        return DamagedFile(f"{self.source}: {key} must be {want}, not {short(self.data.get(key))}")

    def raw(self, key: _Str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def str(self, key: _Str, default: _Str = "") -> _Str:
        value = self.data.get(key)
        if value is None:
            return default
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise self._bad(key, "text")

    def int(self, key: _Str, default: _Int = 0, lo: _Int | None = None, hi: _Int | None = None) -> _Int:
        value = self.data.get(key)
        if value is None:
            return default
        if isinstance(value, bool):
            raise self._bad(key, "a whole number")
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            value = int(value)
        if not isinstance(value, int):
            raise self._bad(key, "a whole number")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise self._bad(key, f"a whole number in [{lo if lo is not None else '-inf'}, "
                                 f"{hi if hi is not None else 'inf'}]")
        return value

    def float(self, key: _Str, default: _Float | None = None, lo: _Float | None = None,
              hi: _Float | None = None) -> _Float | None:
        value = self.data.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self._bad(key, "a number")
        try:
            number = float(value)
        except OverflowError:  # an int of 400 digits
            raise self._bad(key, "a finite number") from None
        if not math.isfinite(number):
            raise self._bad(key, "a finite number")
        if (lo is not None and number < lo) or (hi is not None and number > hi):
            raise self._bad(key, f"a number in [{lo}, {hi}]")
        return number

    def bool(self, key: _Str, default: _Bool = False) -> _Bool:
        value = self.data.get(key)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise self._bad(key, "true or false")

    def time(self, key: _Str) -> datetime | None:
        value = self.data.get(key)
        return None if value is None else aware_time(value, self.source, key)

    def strings(self, key: _Str) -> _List[_Str]:
        value = self.data.get(key)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self._bad(key, "a list of names")
        return list(value)

    def list(self, key: _Str) -> _List[Any]:
        value = self.data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self._bad(key, "a list")
        return value

    def object(self, key: _Str) -> "Fields":
        value = self.data.get(key)
        return Fields({} if value is None else value, f"{self.source}: {key}")


def _kind(value: Any) -> str:
    return {list: "a list", str: "a string", int: "a number", float: "a number", bool: "true/false",
            type(None): "null"}.get(type(value), type(value).__name__)
