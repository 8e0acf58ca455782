"""``index.html`` of an access export: the page the subject opens first.

``data.json`` is complete but written for programs; the cover page says the same in a form a
person reads: who holds their data, why, for how long, where it came from, who receives it,
what profiling does, their rights and where to complain, and which file holds what. It is
self-contained (inline style, no script, no link outside the ZIP), so it opens offline.
Jinja2 escapes every value: the records are the subject's own text and must not run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, Template, select_autoescape

from policies.loader import PolicySet


@lru_cache(maxsize=1)
def _template() -> Template:
    environment = Environment(
        loader=PackageLoader("governance.requests", "templates"),
        autoescape=select_autoescape(["html"]),
    )
    return environment.get_template("export_index.html")


def cover_page(
    document: Mapping[str, Any],
    policy: PolicySet,
    counts: Mapping[str, int],
    csv_files: Sequence[str],
) -> str:
    collections = [
        {
            "name": name,
            "description": body["description"],
            "records": counts.get(name, 0),
            "source": body["source"],
            "storage": body["storage"],
            "categories": sorted(
                {policy_field["category"] for policy_field in body["fields"].values()}
            ),
        }
        for name, body in document["collections"].items()
    ]
    return _template().render(
        doc=document, collections=collections, csv_files=csv_files, total=sum(counts.values())
    )
