"""Parse and validate ``organisation.yaml``: who the controller is, for the record of
processing activities (GDPR Art. 30(1)(a), (g)).

The controller's name and contact, the data protection officer, the EU and UK
representatives where the controller is established outside them (Art. 27; UK GDPR Art.
27), and the technical and organisational security measures in the organisation's own
words. The measures the service enforces itself are added to the record by the service,
not written here, so the record cannot claim one the service does not take.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from policies.datamap import Checker
from policies.errors import PolicyFileError

_TOP_KEYS = {"version", "fictional", "controller", "dpo", "representatives", "security_measures"}
_PARTY_KEYS = {"name", "contact", "address"}
_REPRESENTATIVE_REGIONS = {"eu", "uk"}


@dataclass(frozen=True)
class Party:
    name: str
    contact: str
    address: str = ""


@dataclass(frozen=True)
class Organisation:
    controller: Party
    dpo: Party | None
    representatives: Mapping[str, Party]  # "eu" / "uk" -> the representative
    security_measures: tuple[str, ...]
    fictional: bool = False  # the demo's organisation says so wherever it is shown


def parse_organisation(document: Any, file: str = "organisation.yaml") -> Organisation:
    check = Checker(file)
    top = check.mapping(document, "", _TOP_KEYS)
    if top is None:
        raise PolicyFileError(check.problems)
    if top.get("version") != 1:
        check.fail("version", "must be 1 (the only organisation format this service reads)")
    controller = _party(check, top.get("controller"), "controller")
    dpo = _party(check, top.get("dpo"), "dpo") if top.get("dpo") is not None else None
    representatives: dict[str, Party] = {}
    raw = top.get("representatives") or {}
    body = check.mapping(raw, "representatives", _REPRESENTATIVE_REGIONS)
    for region, value in (body or {}).items():
        party = _party(check, value, f"representatives.{region}")
        if party is not None and region in _REPRESENTATIVE_REGIONS:
            representatives[region] = party
    measures = top.get("security_measures")
    if (
        not isinstance(measures, list)
        or not measures
        or not all(isinstance(m, str) and m.strip() for m in measures)
    ):
        check.fail(
            "security_measures",
            "a non-empty list of the technical and organisational "
            "measures taken (Art. 32), one sentence each",
        )
        measures = []
    fictional = check.boolean(top.get("fictional"), "fictional")
    if check.problems or controller is None:
        raise PolicyFileError(check.problems)
    return Organisation(
        controller=controller,
        dpo=dpo,
        representatives=representatives,
        security_measures=tuple(measures),
        fictional=fictional,
    )


def _party(check: Checker, raw: Any, path: str) -> Party | None:
    body = check.mapping(raw, path, _PARTY_KEYS)
    if body is None:
        return None
    name = check.string(body.get("name"), f"{path}.name")
    contact = check.string(body.get("contact"), f"{path}.contact")
    address = check.string(body.get("address"), f"{path}.address", required=False) or ""
    if name is None or contact is None:
        return None
    return Party(name=name, contact=contact, address=address)


def as_mapping(party: Party | None) -> dict[str, str] | None:
    if party is None:
        return None
    return {"name": party.name, "contact": party.contact, "address": party.address}
