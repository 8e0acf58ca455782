"""What an access export tells the subject beyond their records: their rights and where to
complain (GDPR Art. 15(1)(e)-(f); CCPA, Cal. Civ. Code 1798.100-.125), in plain words.

The sentences are the law's, not a company's: a company states who it is and its contact
and supervisory authority in ``purposes.yaml`` (``controller``), and those are filled in.
"""

from __future__ import annotations

from dataclasses import dataclass

from policies.purposes import Controller


@dataclass(frozen=True)
class Right:
    right: str
    basis: str
    what: str


_GDPR: tuple[Right, ...] = (
    Right(
        "access",
        "GDPR Art. 15",
        "You may ask for a copy of your personal data and how we use it, as in this export.",
    ),
    Right(
        "rectification",
        "GDPR Art. 16",
        "You may ask us to correct data about you that is wrong or to complete it.",
    ),
    Right(
        "erasure",
        "GDPR Art. 17",
        "You may ask us to erase your data where we no longer need it, you withdraw the "
        "consent it rests on, you object, or it was processed unlawfully; records the law "
        "obliges us to keep are kept without your name until their period ends.",
    ),
    Right(
        "restriction",
        "GDPR Art. 18",
        "You may ask us to stop using your data, except to store it, while its accuracy or "
        "our grounds are checked or where you need it kept for a legal claim.",
    ),
    Right(
        "portability",
        "GDPR Art. 20",
        "You may ask for the data you gave us in a machine-readable form, for yourself or "
        "for another company.",
    ),
    Right(
        "objection",
        "GDPR Art. 21",
        "You may object to uses based on our legitimate interests; to direct marketing you "
        "may object at any time, and we then stop.",
    ),
    Right(
        "withdraw_consent",
        "GDPR Art. 7(3)",
        "Where a use rests on your consent, you may withdraw it at any time; this does not "
        "make earlier use unlawful.",
    ),
    Right(
        "automated_decisions",
        "GDPR Art. 22",
        "You may refuse to be subject to a decision with legal or similarly significant "
        "effects made solely by automated means, and ask for a person to review it.",
    ),
)

_CCPA: tuple[Right, ...] = (
    Right(
        "know",
        "Cal. Civ. Code 1798.100, 1798.110",
        "You may ask what personal information we collect, use, disclose, sell or share, "
        "and get a copy, as in this export.",
    ),
    Right(
        "delete",
        "Cal. Civ. Code 1798.105",
        "You may ask us to delete personal information we collected from you.",
    ),
    Right(
        "correct",
        "Cal. Civ. Code 1798.106",
        "You may ask us to correct inaccurate personal information.",
    ),
    Right(
        "opt_out",
        "Cal. Civ. Code 1798.120",
        "You may tell us not to sell or share your personal information; a Global Privacy "
        "Control signal from your browser does the same.",
    ),
    Right(
        "limit_sensitive",
        "Cal. Civ. Code 1798.121",
        "You may limit our use of sensitive personal information to what is necessary to "
        "provide our services.",
    ),
    Right(
        "non_discrimination",
        "Cal. Civ. Code 1798.125",
        "We may not treat you differently for using these rights.",
    ),
)

RIGHTS: dict[str, tuple[Right, ...]] = {"gdpr": _GDPR, "ccpa": _CCPA}

_COMPLAINT = {
    "gdpr": (
        "GDPR Art. 77",
        "You have the right to lodge a complaint with a supervisory "
        "authority, in particular in the EU or EEA country where you live or work or "
        "where you think the infringement happened.",
    ),
    "ccpa": (
        "Cal. Civ. Code 1798.199.10",
        "You may complain to the California Privacy Protection Agency.",
    ),
}


def rights_for(regulation: str) -> list[dict[str, str]]:
    return [
        {"right": r.right, "basis": r.basis, "what": r.what} for r in RIGHTS.get(regulation, _GDPR)
    ]


def complaint_for(regulation: str, controller: Controller | None) -> dict[str, str]:
    basis, what = _COMPLAINT.get(regulation, _COMPLAINT["gdpr"])
    body = {"basis": basis, "what": what}
    if controller is not None:
        body["authority"] = controller.supervisory_authority
    return body


def how_to_exercise(controller: Controller | None) -> str:
    if controller is None:
        return "Ask us through the channel you used for this request."
    return f"Write to {controller.name} at {controller.contact}, or reply to this export."
