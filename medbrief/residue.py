"""Page residue: what scraped news pages and press releases leave around an article.

LABELLING.md (rules 8 and 20) calls all of it boilerplate. The classifier learns most of
it; the patterns here catch the kinds no summary may ever quote whatever the classifier
says: everything after a press release's end marker, "About <organisation>" sections,
forward-looking-statement notices, media contacts, credits, captions, copyright lines,
sign-up and follow prompts, editors' notes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

RESIDUE = "page_residue"

_I = re.IGNORECASE
# A press release ends at "###" (or "-30-", "ENDS"): what follows is contacts and "About".
_END_MARKER = re.compile(r"^(?:#\s*#\s*#|#{3,}|-\s*30\s*-|-*\s*ENDS?\s*-*)$", _I)
# "About <organisation>" (a heading): the section it opens describes the publisher.
_ABOUT = re.compile(r"^about\s+(?:the\s+)?(.{2,90}?)\s*:?$", _I)
_ORGANISATION = re.compile(
    r"\b(?:universit(?:y|ies)|institutes?|inc|corp(?:oration)?|compan(?:y|ies)|ltd|llc|plc"
    r"|society|foundation|cent(?:er|re)s?|hospitals?|associations?|academy|college|school"
    r"|pharmaceuticals?|pharma|therapeutics|biosciences?|biotech|laborator(?:y|ies)|labs?"
    r"|group|clinic|agency|administration|council|network|alliance|system|news|journal"
    r"|medicine|health(?:care)?|nih|fda|cdc|ama|aaas|eurekalert|newswise|prnewswire)\b",
    _I,
)
# Whole paragraphs that are residue wherever they stand.
_PARAGRAPH = re.compile(
    r"forward[- ]looking statements?|safe harbor|Private Securities Litigation Reform Act"
    r"|^(?:media|press|news)\s+(?:contacts?|inquiries|relations)\b|^contacts?\s*:"
    r"|^\(?(?:Reporting|Writing|Editing|Additional reporting) by\b|\bEditing by [A-Z]"
    r"|^(?:copyright\b|©|\(c\)\s*\d{4})|\ball rights reserved\b"
    r"|^(?:photo|image|video|graphic|illustration)s?(?: credit)?\s*:|\((?:AP|Reuters|AFP) Photo"
    r"|^(?:sign up|subscribe)\b|^follow (?:us|[A-Z][\w.]* on)\b|^(?:editor'?s?|editorial) note\s*:"
    r"|^notes? to editors\b|^(?:this (?:article|story) (?:was )?originally (?:published|"
    r"appeared))|^(?:SEE ORIGINAL STUDY|Advertisement|Sponsored content)$",
    _I,
)
# Sentences a summary never quotes, even from a paragraph that is otherwise content.
_SENTENCE = re.compile(
    r"forward[- ]looking statements?|safe harbor|undue reliance"
    r"|\b(?:for more information|more information is available)\b"
    r"|\b(?:visit|see|go to)\s+(?:us at\s+)?(?:www\.|https?://|[\w-]+\.(?:com|org|gov|edu)\b)"
    r"|\bclick here\b|\bsign up\b|\bsubscribe\b|\bnewsletter\b|\bfollow (?:us|@)"
    r"|\b(?:on|at) (?:Twitter|Facebook|Instagram|LinkedIn)\b|\bshare (?:this|on)\b"
    r"|[\w.+-]+@[\w-]+\.(?:com|org|edu|gov|net)\b|\(?\b\d{3}\)?[-. ]\d{3}[-.]\d{4}\b"
    r"|\b(?:Reporting|Editing) by\b|\b(?:AP|Reuters|AFP) Photo\b|\bGetty Images\b"
    r"|\bistock(?:photo)?\b|\bShutterstock\b|\b(?:photo|image) credit"
    r"|\bcopyright\b|©|\ball rights reserved\b|\breproduced with permission\b"
    r"|\bRead more\b|\bRelated:|\bcomments? (?:below|section)\b|\bleave a (?:comment|reply)\b"
    r"|\bEditor'?s note\b|\banswered readers'? questions\b|\bfollow-up here\b"
    r"|\bverify (?:you are|you're) (?:not )?a (?:human|robot)\b|\b(?:enable|supports?) JavaScript\b"
    r"|\bthis (?:article|story|post) (?:was|has been) (?:updated|corrected)\b"
    r"|\bis (?:a|an) (?:[\w-]+ ){0,4}(?:company|organization|organisation|institution"
    r"|nonprofit|non-profit|society|association|foundation) (?:that|which|dedicated|"
    r"committed|focused|with|whose|of more than)\b|\bwww\.",
    _I,
)
# A publisher's self-description opening: "Founded in 1905, the Society ...".
_SELF_DESCRIPTION = re.compile(r"^(?:Founded|Established|Headquartered) in (?:\d{4}|[A-Z])")


def _is_heading(text: str) -> bool:
    return len(text.split()) <= 12 and text.rstrip()[-1:] not in ".!?\"”"


def residue_paragraphs(texts: Sequence[str]) -> list[bool]:
    """Which paragraphs of an article (in reading order) are page residue: those after an
    end marker, those of an "About <organisation>" section up to the next heading, and
    those that are residue on their own."""
    marks: list[bool] = []
    ended = about = False
    for text in texts:
        stripped = text.strip()
        if _END_MARKER.match(stripped):
            ended = True
            marks.append(True)
            continue
        heading = _is_heading(stripped)
        match = _ABOUT.match(stripped) if heading else None
        if match:
            about = bool(_ORGANISATION.search(match.group(1)))
        elif heading:
            about = False
        marks.append(ended or about or bool(_PARAGRAPH.search(stripped)))
    return marks


def is_residue_sentence(sentence: str) -> bool:
    """Whether a sentence is page residue that no summary may quote."""
    return _SENTENCE.search(sentence) is not None or bool(_SELF_DESCRIPTION.match(sentence))
