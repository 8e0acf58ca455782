"""Parse and validate ``purposes.yaml`` into a frozen :class:`PurposeSet`.

Like the data map, every problem is collected (file, dotted path, what is wrong) before the
file is refused. Data uses are checked against the fideslang default taxonomy. The rules
that tie the fields together are the law's, written where a reviewer can see them:

- a purpose that sells or shares (CCPA) rests on consent, so a GPC opt-out can stop it;
- a purpose that may use special categories (GDPR Art. 9) rests on explicit consent or is
  for legal claims (Art. 9(2)(a) and (f));
- only storage and legal claims may go on while processing is restricted (Art. 18(2)).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any

from policies.datamap import Checker
from policies.errors import PolicyFileError


class LegalBasis(StrEnum):
    """GDPR Art. 6(1) (a) to (f)."""

    CONSENT = "consent"
    CONTRACT = "contract"
    LEGAL_OBLIGATION = "legal_obligation"
    VITAL_INTERESTS = "vital_interests"
    PUBLIC_TASK = "public_task"
    LEGITIMATE_INTERESTS = "legitimate_interests"


class RestrictionExemption(StrEnum):
    """The grounds on which a purpose still processes a restricted subject (Art. 18(2))."""

    STORAGE = "storage"
    LEGAL_CLAIMS = "legal_claims"


# Art. 21(1): a subject may object to processing based on public task or legitimate interests.
OBJECTABLE_BASES = frozenset({LegalBasis.PUBLIC_TASK, LegalBasis.LEGITIMATE_INTERESTS})
DIRECT_MARKETING_USE = "marketing"

_ID = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_TOP_KEYS = {"version", "purposes", "controller"}
_PURPOSE_KEYS = {
    "description",
    "legal_basis",
    "data_use",
    "sells_or_shares",
    "sensitive",
    "restriction_exemption",
    "profiling",
    "retention_exempt",
    "data_subjects",
    "recipients",
    "legitimate_interest",
}
_RECIPIENT_KEYS = {"name", "type", "country", "safeguard"}
_COUNTRY = re.compile(r"^[A-Z]{2}$")
# The EU member states and Iceland, Liechtenstein, Norway: a transfer outside them needs a
# safeguard of GDPR Chapter V.
EEA = frozenset(
    "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI "
    "ES SE IS LI NO".split()
)
_PROFILING_KEYS = {"logic", "significance", "solely_automated_decision"}
_CONTROLLER_KEYS = {"name", "contact", "supervisory_authority"}
# fideslang data uses that are profiling by name: such a purpose must say what its profiling
# does, because an access export has to (Art. 15(1)(h)).
_PROFILING_USE = re.compile(r"(^|\.)(profiling|profiled)($|\.)")


@lru_cache(maxsize=1)
def fideslang_data_uses() -> frozenset[str]:
    from fideslang.default_taxonomy import DEFAULT_TAXONOMY

    return frozenset(u.fides_key for u in DEFAULT_TAXONOMY.data_use)


@dataclass(frozen=True)
class Profiling:
    """What a purpose's profiling or automated decision-making does, in the words an access
    export gives the subject (GDPR Art. 15(1)(h)): the logic involved and its significance
    and envisaged consequences. ``solely_automated_decision``: it takes decisions with legal
    or similarly significant effects without a person (Art. 22(1))."""

    logic: str
    significance: str
    solely_automated_decision: bool = False


class RecipientType(StrEnum):
    INTERNAL = "internal"  # a team of the controller
    PROCESSOR = "processor"  # processes on the controller's behalf (Art. 28)
    THIRD_PARTY = "third_party"  # receives the data for its own purposes


class TransferSafeguard(StrEnum):
    """The ground of a transfer outside the EEA (GDPR Chapter V)."""

    ADEQUACY_DECISION = "adequacy_decision"  # Art. 45
    STANDARD_CONTRACTUAL_CLAUSES = "standard_contractual_clauses"  # Art. 46(2)(c)
    BINDING_CORPORATE_RULES = "binding_corporate_rules"  # Art. 47
    DEROGATION = "derogation"  # Art. 49


@dataclass(frozen=True)
class Recipient:
    """Who receives a purpose's personal data (Art. 30(1)(d), (e))."""

    name: str
    type: RecipientType
    country: str  # ISO 3166-1 alpha-2
    safeguard: TransferSafeguard | None = None

    @property
    def outside_eea(self) -> bool:
        return self.country not in EEA


@dataclass(frozen=True)
class Controller:
    """Who answers the subject: the controller's name and privacy contact, and the
    supervisory authority the subject may complain to (Art. 15(1)(f), Art. 77)."""

    name: str
    contact: str
    supervisory_authority: str


@dataclass(frozen=True)
class Purpose:
    id: str
    description: str
    legal_basis: LegalBasis
    data_use: str
    sells_or_shares: bool = False
    sensitive: bool = False
    restriction_exemption: RestrictionExemption | None = None
    profiling: Profiling | None = None
    # Reads records past their retention period (the data map's): only a legal obligation
    # to keep them or legal claims justify it (Art. 17(3)(b), (e)).
    retention_exempt: bool = False
    # For the record of processing (Art. 30(1)(c)-(e)): whose data, and who receives it.
    data_subjects: tuple[str, ...] = ()
    recipients: tuple[Recipient, ...] = ()
    legitimate_interest: str = ""  # the interest pursued, for legitimate_interests purposes

    @property
    def requires_consent(self) -> bool:
        """Processing needs the subject's current grant (Art. 6(1)(a))."""
        return self.legal_basis is LegalBasis.CONSENT

    @property
    def direct_marketing(self) -> bool:
        return self.data_use == DIRECT_MARKETING_USE or self.data_use.startswith(
            DIRECT_MARKETING_USE + "."
        )

    @property
    def objectable(self) -> bool:
        """An objection stops this purpose: direct marketing always (Art. 21(2)-(3)); public
        task and legitimate interests unless it is for legal claims (Art. 21(1))."""
        if self.direct_marketing:
            return True
        return (
            self.legal_basis in OBJECTABLE_BASES
            and self.restriction_exemption is not RestrictionExemption.LEGAL_CLAIMS
        )

    @property
    def exempt_from_restriction(self) -> bool:
        return self.restriction_exemption is not None


@dataclass(frozen=True)
class PurposeSet:
    purposes: Mapping[str, Purpose]
    controller: Controller | None = None

    def __contains__(self, purpose_id: object) -> bool:
        return purpose_id in self.purposes

    def __iter__(self) -> Iterator[Purpose]:
        return iter(self.purposes.values())

    def __len__(self) -> int:
        return len(self.purposes)

    def get(self, purpose_id: str) -> Purpose | None:
        return self.purposes.get(purpose_id)

    def ids(self) -> tuple[str, ...]:
        return tuple(self.purposes)

    def selling_or_sharing(self) -> tuple[Purpose, ...]:
        return tuple(p for p in self.purposes.values() if p.sells_or_shares)


def parse_purposes(document: Any, file: str = "purposes.yaml") -> PurposeSet:
    """Validate a parsed YAML document and build the purpose set, or raise with all problems."""
    check = Checker(file)
    top = check.mapping(document, "", _TOP_KEYS)
    if top is None:
        raise PolicyFileError(check.problems)
    if top.get("version") != 1:
        check.fail("version", "must be 1 (the only purposes format this service reads)")
    raw = top.get("purposes")
    if not isinstance(raw, Mapping) or not raw:
        check.fail("purposes", "must be a non-empty mapping of purpose id to purpose")
        raise PolicyFileError(check.problems)
    purposes: dict[str, Purpose] = {}
    for purpose_id, body in raw.items():
        path = f"purposes.{purpose_id}"
        if not isinstance(purpose_id, str) or not _ID.match(purpose_id):
            check.fail(path, "purpose ids are lower_snake_case ids of at most 64 characters")
            continue
        built = _purpose(check, purpose_id, body, path)
        if built is not None:
            purposes[purpose_id] = built
    controller = _controller(check, top.get("controller"))
    if check.problems:
        raise PolicyFileError(check.problems)
    return PurposeSet(purposes=purposes, controller=controller)


def _controller(check: Checker, raw: Any) -> Controller | None:
    if raw is None:
        return None
    body = check.mapping(raw, "controller", _CONTROLLER_KEYS)
    if body is None:
        return None
    values = [check.string(body.get(k), f"controller.{k}") for k in sorted(_CONTROLLER_KEYS)]
    contact, name, authority = values
    if contact is None or name is None or authority is None:
        return None
    return Controller(name=name, contact=contact, supervisory_authority=authority)


def _profiling(check: Checker, raw: Any, path: str) -> Profiling | None:
    body = check.mapping(raw, path, _PROFILING_KEYS)
    if body is None:
        return None
    logic = check.string(body.get("logic"), f"{path}.logic")
    significance = check.string(body.get("significance"), f"{path}.significance")
    solely = check.boolean(
        body.get("solely_automated_decision"), f"{path}.solely_automated_decision"
    )
    if logic is None or significance is None:
        return None
    return Profiling(logic=logic, significance=significance, solely_automated_decision=solely)


def _purpose(check: Checker, purpose_id: str, raw: Any, path: str) -> Purpose | None:
    body = check.mapping(raw, path, _PURPOSE_KEYS)
    if body is None:
        return None
    before = len(check.problems)
    description = check.string(body.get("description"), f"{path}.description")
    basis = check.enum(LegalBasis, body.get("legal_basis"), f"{path}.legal_basis")
    data_use = check.string(body.get("data_use"), f"{path}.data_use")
    if data_use is not None and data_use not in fideslang_data_uses():
        check.fail(f"{path}.data_use", f"{data_use!r} is not a fideslang data use")
    sells = check.boolean(body.get("sells_or_shares"), f"{path}.sells_or_shares")
    sensitive = check.boolean(body.get("sensitive"), f"{path}.sensitive")
    exemption = None
    if body.get("restriction_exemption") is not None:
        exemption = check.enum(
            RestrictionExemption, body.get("restriction_exemption"), f"{path}.restriction_exemption"
        )
    if sells and basis not in (None, LegalBasis.CONSENT):
        check.fail(
            f"{path}.sells_or_shares",
            "a purpose that sells or shares must rest on consent, so an opt-out can stop it",
        )
    if sells and exemption is not None:
        check.fail(
            f"{path}.restriction_exemption", "selling or sharing is never storage or legal claims"
        )
    if (
        sensitive
        and basis not in (None, LegalBasis.CONSENT)
        and exemption is not RestrictionExemption.LEGAL_CLAIMS
    ):
        check.fail(
            f"{path}.sensitive",
            "special categories need explicit consent or legal claims (Art. 9(2)(a), (f))",
        )
    retention_exempt = check.boolean(body.get("retention_exempt"), f"{path}.retention_exempt")
    if (
        retention_exempt
        and basis is not LegalBasis.LEGAL_OBLIGATION
        and (exemption is not RestrictionExemption.LEGAL_CLAIMS)
    ):
        check.fail(
            f"{path}.retention_exempt",
            "only a legal obligation or legal claims "
            "justify reading records past their retention (Art. 17(3)(b), (e))",
        )
    data_subjects = _data_subjects(check, body.get("data_subjects"), f"{path}.data_subjects")
    recipients = _recipients(check, body.get("recipients"), f"{path}.recipients")
    interest = (
        check.string(
            body.get("legitimate_interest"),
            f"{path}.legitimate_interest",
            required=basis is LegalBasis.LEGITIMATE_INTERESTS,
        )
        or ""
    )
    if interest and basis is not LegalBasis.LEGITIMATE_INTERESTS:
        check.fail(
            f"{path}.legitimate_interest",
            "only a purpose based on legitimate interests names the interest",
        )
    profiling = None
    if body.get("profiling") is not None:
        profiling = _profiling(check, body.get("profiling"), f"{path}.profiling")
    elif data_use is not None and _PROFILING_USE.search(data_use):
        check.fail(
            f"{path}.profiling",
            f"the data use {data_use!r} is profiling: say what it "
            "does (logic, significance), which an access export tells the subject",
        )
    if len(check.problems) > before or description is None or basis is None or data_use is None:
        return None
    return Purpose(
        id=purpose_id,
        description=description,
        legal_basis=basis,
        data_use=data_use,
        sells_or_shares=sells,
        sensitive=sensitive,
        restriction_exemption=exemption,
        profiling=profiling,
        retention_exempt=retention_exempt,
        data_subjects=data_subjects,
        recipients=recipients,
        legitimate_interest=interest,
    )


def _data_subjects(check: Checker, raw: Any, path: str) -> tuple[str, ...]:
    if (
        not isinstance(raw, list)
        or not raw
        or not all(isinstance(v, str) and v.strip() for v in raw)
    ):
        check.fail(
            path,
            "every purpose names the categories of data subjects it processes "
            "(Art. 30(1)(c)), e.g. [customers]",
        )
        return ()
    return tuple(raw)


def _recipients(check: Checker, raw: Any, path: str) -> tuple[Recipient, ...]:
    if not isinstance(raw, list) or not raw:
        check.fail(
            path,
            "every purpose names its recipients (Art. 30(1)(d)): internal teams, "
            "processors and third parties, with their country",
        )
        return ()
    found = []
    for i, item in enumerate(raw):
        where = f"{path}.{i}"
        body = check.mapping(item, where, _RECIPIENT_KEYS)
        if body is None:
            continue
        name = check.string(body.get("name"), f"{where}.name")
        kind = check.enum(RecipientType, body.get("type"), f"{where}.type")
        country = body.get("country")
        if not isinstance(country, str) or not _COUNTRY.match(country):
            check.fail(f"{where}.country", "an ISO 3166-1 alpha-2 country code, e.g. DE")
            country = None
        safeguard = None
        if body.get("safeguard") is not None:
            safeguard = check.enum(TransferSafeguard, body.get("safeguard"), f"{where}.safeguard")
        elif country is not None and country not in EEA:
            check.fail(
                f"{where}.safeguard",
                f"a recipient in {country}, outside the EEA, "
                "needs the transfer's safeguard (GDPR Chapter V)",
            )
        if name is not None and kind is not None and country is not None:
            found.append(Recipient(name=name, type=kind, country=country, safeguard=safeguard))
    return tuple(found)
