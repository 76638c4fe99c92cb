"""Sentences that only point at a source: "This is stated in the IT Handbook [4]."

Small models like to close (or pad) an answer with a pointer to where something is written,
or with a vacuous "there are rules for this, described in [1]". Such a sentence states no
fact: judged as a claim it is trivially "supported" by the source it names, which would let a
pointer alone pass for an answer, and judged unsupported it would dilute the support score.
The grounding check classes them as non-factual, so they neither support nor dilute.

A sentence is a pointer when, after its pointer clause is removed ("as stated in X", "which
are outlined in X", "for more details, see X"), nothing but an existence statement about
rules or information ("There are specific guidelines for travel") is left. A sentence with a
figure is never a pointer: "18 weeks, as stated in [1]" states the 18 weeks.
"""

from __future__ import annotations

import re

from generation.similarity import facts

_VERB = (
    r"(?:stated|found|mentioned|described|outlined|detailed|covered|explained|listed|"
    r"documented|specified|defined|set out|laid out|provided|given|available|addressed|"
    r"discussed|included|contained|located)"
)
_WHERE = r"(?:in|on|under|within|at|from|by)"

# A pointer clause and everything after it: ", as stated in the Leave Policy [1]."
_DOCUMENT = (
    r"(?:documents?|sources?|handbook|policy|polic(?:y|ies)|guides?|sections?|pages?|manuals?|"
    r"files?|overview|summary)"
)
_TRAILING_POINTER = re.compile(
    rf"(?:,?\s*(?:as|which|that|and|these|this|they|it)\b[\w\s]{{0,30}}?\b)?"
    rf"(?:\b(?:is|are|can be|may be|were|was|be)?\s*{_VERB}\s+{_WHERE}\b"
    rf"|\b(?:is|are|can be)\s+(?:all\s+)?(?:in|within)\s+(?:\S+\s+){{0,5}}?{_DOCUMENT}\b).*$",
    re.IGNORECASE,
)
# A sentence that is nothing but a reference: "See [2].", "For more details, refer to X."
_LEADING_POINTER = re.compile(
    r"^(?:please\s+)?(?:for (?:more|further|additional|detailed|full) "
    r"(?:information|details|guidance|specifics)[^,]*,\s*)?"
    r"(?:see|refer to|consult|check|read|review|look at|you can find|you will find|"
    r"more (?:information|details) (?:is|are|can be) found)\b",
    re.IGNORECASE,
)
_SUBJECT_ONLY = re.compile(
    r"^(?:this|that|it|these|those|this information|the information|the details|the answer|"
    r"the (?:relevant |specific )?(?:information|details|rules|policy|policies|guidelines|"
    r"procedures?|requirements?))\W*$",
    re.IGNORECASE,
)
# "There are (specific) rules/guidelines ... for X": says rules exist, not what they say.
_EXISTENCE = re.compile(
    r"^(?:there (?:are|is|exist)|(?:the )?(?:company|organi[sz]ation|handbook|policy|document)"
    r" (?:has|have|provides?|includes?))\s+(?:\w+\s+){0,3}?"
    r"(?:rules?|guidelines?|polic(?:y|ies)|procedures?|requirements?|information|details|"
    r"instructions|steps|process(?:es)?|criteria|provisions?)\b",
    re.IGNORECASE,
)
_MARKER = re.compile(r"\[[^\[\]]{0,20}\]")


def is_pointer(sentence: str) -> bool:
    """True when ``sentence`` only says where something is written (see the module doc)."""
    text = " ".join(_MARKER.sub(" ", sentence).split()).strip()
    if not text or facts(text, word_one=False):
        return False
    if _LEADING_POINTER.match(text):
        return True
    rest = _TRAILING_POINTER.sub("", text).strip(" ,;:.")
    if rest == text.strip(" ,;:."):
        return False  # no pointer clause at all
    return not rest or bool(_SUBJECT_ONLY.match(rest) or _EXISTENCE.match(rest))
