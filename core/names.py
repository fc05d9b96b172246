"""How names reach users: the one display form of a city ("Zagreb, HR", `city_label`), and the one
"did you mean ...?" rule for every name a user types (cities of the catalog and of a project, run ids,
model architectures).

Why edit distance and not substring search: a typo drops, adds or swaps a letter ("Rjeka" for "Rijeka"),
which no prefix of the intended name contains, while a substring search finds whatever else happens to
contain the misspelling ("Suva Reka" for "Rjeka").
"""

from __future__ import annotations

import unicodedata
from typing import Callable, Iterable


def city_label(name: str, country: str | None) -> str:
    """How a city is shown to a user everywhere (tables, captions, maps, messages): "Zagreb, HR", never
    its slug and never the bare name (two Londons, two Valencias)."""
    return f"{name}, {country}" if country else name


def fold(text: str) -> str:
    """Lower-case ASCII form of `text` for matching ("Bogotá" -> "bogota", "Zürich" -> "zurich")."""
    if text.isascii():
        return text.lower().strip()
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower().strip()


def edit_distance(a: str, b: str, limit: int) -> int:
    """Levenshtein distance of `a` and `b` (insertions, deletions, substitutions), or `limit + 1` as soon
    as it is sure to exceed `limit` (the common case when scanning thousands of names)."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        if min(current) > limit:
            return limit + 1
        previous = current
    return previous[-1]


def typo_limit(word: str) -> int:
    """How many edits still read as a typo of a name: one per four letters, at least one."""
    return max(1, len(word) // 4)


def closest(word: str, choices: Iterable[str], limit: int = 3, key: Callable[[str], str] = str) -> list[str]:
    """Up to `limit` of `choices` nearest to `word` by edit distance (between `word` and `key(choice)`,
    both case- and accent-folded), nearest first, ties in the order given (callers list the likelier names
    first, e.g. bigger cities); only those within `typo_limit` edits, so an unrelated name is never
    suggested."""
    target = fold(word)
    most = typo_limit(target)
    scored = []
    for order, choice in enumerate(choices):
        distance = edit_distance(target, fold(key(choice)), most)
        if distance <= most:
            scored.append((distance, order, choice))
    scored.sort()
    seen: list[str] = []
    for _, _, choice in scored:
        if choice not in seen:
            seen.append(choice)
    return seen[:limit]


def did_you_mean(word: str, choices: Iterable[str], limit: int = 3, key: Callable[[str], str] = str) -> str:
    """``" (did you mean Rijeka, HR?)"`` for the `closest` choices, or "" when none is near enough:
    appended to a "not found" message as it is."""
    near = closest(word, choices, limit, key)
    if not near:
        return ""
    return f" (did you mean {' or '.join(near)}?)"
