"""Which characters client text may hold.

Text from a client (names, reasons, identifiers, agency names) must encode to UTF-8 (a JSON
string may carry a lone surrogate such as ``"\\ud800"``, which PostgreSQL, the logs and the
encryption cannot take) and must not hold control, format or surrogate characters (Unicode
categories Cc, Cf, Cs): they are invisible, break logs and spreadsheets, or are refused by
PostgreSQL (NUL).
"""

from __future__ import annotations

import re
import unicodedata

#: the problem reported for such text (it never repeats the value)
NOT_ALLOWED = "contains characters that are not allowed"
_DISALLOWED = frozenset({"Cc", "Cf", "Cs"})


def has_disallowed_characters(value: str) -> bool:
    if value.isprintable():  # fast path: no Cc, Cf or Cs (nor any other "Other") in it
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return any(unicodedata.category(ch) in _DISALLOWED for ch in value)


#: white space between two Chinese characters (CJK unified ideographs, extensions A to H
#: included, as rare characters of names are written, and compatibility ideographs)
_HAN = "\u3400-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
#: white space as str.split() sees it
_SPACE = re.compile(r"\s")
_CJK_GAP = re.compile(f"(?<=[{_HAN}])\\s+(?=[{_HAN}])")


def normalise_name(value: str) -> str:
    """A name as lists write it, made canonical where the meaning is clear: full-width
    letters and digits as ASCII (NFKC), runs of white space as one space, none around and
    none between Chinese characters ("张 三" and "张　三" are 张三; "Li Wei" stays)."""
    if _SPACE.search(value) is None and unicodedata.is_normalized("NFKC", value):
        return value  # most names: nothing to change (and 100,000 of them in a list)
    text = " ".join(unicodedata.normalize("NFKC", value).split())
    return _CJK_GAP.sub("", text)
