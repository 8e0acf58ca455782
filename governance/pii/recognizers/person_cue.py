"""People's names where CRM writing announces them: greetings and sign-offs ("Dear", "Hi",
"Regards,", "Thanks"), introductions ("this is", "my name is", "spoke to", "ask for"),
honorifics ("Mr", "Dr") and roles ("account holder", "colleague", "my wife").

The small spaCy model misses many names in such positions (it reads "Rosalia" after "Hi"
as a place). This recognizer adds the capitalised words that follow a cue; it needs the
cue, so a product name or a city alone is not taken for a person.
"""

from __future__ import annotations

from presidio_analyzer import Pattern

from governance.pii.recognizers.declared import DeclaredPatternRecognizer

_CUES = (
    r"Mr\.?|Mrs\.?|Ms\.?|Dr\.?|Dear|Hi|Hello|Hey|Thanks,?|Thank you,?|Regards,|Best,|Cheers,"
    r"|[Tt]his is|[Mm]y name is|[Nn]ame:|[Ss]poke (?:to|with)|[Tt]alked (?:to|with)"
    r"|[Aa]sk(?:ed)? for|[Cc]all(?:ed)? back|[Ii]nformed|[Cc]onfirmed by|[Ss]igned by"
    r"|[Vv]oicemail for|[Aa]ccount holder|[Cc]ontact person|[Cc]olleague|[Ff]riend"
    r"|[Hh]usband|[Ww]ife|[Pp]artner|[Cc]ustomer|[Cc]lient|^-|\n-|\s-"
)
_PARTICLE = r"(?:(?:de|da|di|del|della|van|von|der|den|le|la|ter|ten|dos|du)\s)"
_NAME = r"\p{Lu}[\p{Ll}'’]+(?:-\p{Lu}[\p{Ll}'’]+)?"


class PersonCueRecognizer(DeclaredPatternRecognizer):
    ENTITY = "PERSON"
    PATTERNS = [
        Pattern(
            "capitalised name after a cue",
            rf"(?<=(?:{_CUES})\s)(?!(?:Service|Support|Team|Care|The|Sorry|There|All)\b)"
            rf"{_NAME}(?:\s{_PARTICLE}?{_NAME}){{0,2}}\b",
            0.6,
        )
    ]

    REGEX_FLAGS = 0  # case matters: a name starts with a capital
