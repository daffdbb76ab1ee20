"""Reading a gateway's /metrics page, and the metric names in PromQL expressions."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import Gateway

Labels = frozenset[tuple[str, str]]


@dataclass(frozen=True)
class Page:
    text: str
    #: every sample: (name, labels) -> value
    samples: dict[tuple[str, Labels], float]
    #: every metric name the page declares or shows (a histogram's _bucket, _sum, _count too)
    names: frozenset[str]

    def value(self, name: str, **labels: str) -> float | None:
        return self.samples.get((name, frozenset(labels.items())))

    def family(self, name: str) -> dict[Labels, float]:
        """The samples named ``name``, by their labels."""
        return {labels: v for (n, labels), v in self.samples.items() if n == name}

    def by(self, name: str, *keys: str) -> dict[tuple[str, ...], float]:
        """The samples named ``name`` by the values of ``keys`` (the only labels they have)."""
        out: dict[tuple[str, ...], float] = {}
        for labels, value in self.family(name).items():
            as_dict = dict(labels)
            assert set(as_dict) == set(keys), (name, as_dict)
            out[tuple(as_dict[k] for k in keys)] = value
        return out


_TYPE = re.compile(r"^# TYPE (\S+) (\S+)$", re.MULTILINE)
_SUFFIXES = {"histogram": ("_bucket", "_sum", "_count"), "summary": ("_sum", "_count")}


def parse(text: str) -> Page:
    samples: dict[tuple[str, Labels], float] = {}
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = (sample.name, frozenset(sample.labels.items()))
            assert key not in samples, f"sample {key} repeated"
            samples[key] = sample.value
            names.add(sample.name)
    for name, kind in _TYPE.findall(text):
        names.add(name)
        names.update(name + suffix for suffix in _SUFFIXES.get(kind, ()))
    return Page(text, samples, frozenset(names))


async def scrape(gateway: Gateway) -> Page:
    response = await gateway.client.get("/metrics")
    assert response.status == 200
    return parse(await response.text())


async def promtool_check_metrics(promtool: str, text: str) -> tuple[int, str]:
    """(exit code, what promtool said) of ``promtool check metrics`` on ``text``."""
    process = await asyncio.create_subprocess_exec(
        promtool, "check", "metrics",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await process.communicate(text.encode())
    assert process.returncode is not None
    return process.returncode, output.decode()


# --- metric names in PromQL -----------------------------------------------------------------

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\[\]]*\]")
_GROUPING = re.compile(
    r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", re.IGNORECASE
)
_NUMBER = re.compile(r"(?<![\w:])\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[a-zA-Z]*")
_IDENTIFIER = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_KEYWORDS = frozenset(
    {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left",
     "group_right", "inf", "nan", "atan2"}
)  # fmt: skip
#: Grafana's variables, as a query sends them
GRAFANA_VARIABLES = {
    "$__rate_interval": "1m",
    "$__interval": "15s",
    "$__range": "6h",
    "$agency": ".*",
}


def grafana_to_promql(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    assert "$" not in expr, f"a Grafana variable this test does not know in {expr!r}"
    return expr


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (functions, keywords, label names in
    matchers and groupings, durations and numbers left out)."""
    text = _STRING.sub('""', expr)
    text = _MATCHERS.sub(" ", text)
    text = _RANGE.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    text = _NUMBER.sub(" ", text)
    names: set[str] = set()
    for match in _IDENTIFIER.finditer(text):
        word = match[0]
        rest = text[match.end() :].lstrip()
        if rest.startswith("(") or word.lower() in _KEYWORDS:
            continue  # a function or aggregation, or a keyword
        names.add(word)
    return names
