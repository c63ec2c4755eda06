"""Page residue: what scraped news pages and press releases leave around an article.

LABELLING.md (rules 8 and 20) calls all of it boilerplate. The classifier learns most of
it; the patterns here catch the kinds no summary may ever quote whatever the classifier
says: everything after a press release's end marker, "About ..." sections,
forward-looking-statement notices, media contacts, credits, captions, copyright lines,
sign-up and follow prompts, editors' notes, inserted related-story headlines,
advertisement markers, affiliate disclosures, offers of sound bites for broadcasters,
teasers that end by sending the reader to another page ("Read more", "See photos").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

RESIDUE = "page_residue"

_I = re.IGNORECASE
# A press release ends at "###" (or "-30-", "ENDS"): what follows is contacts and "About".
_END_MARKER = re.compile(r"^(?:#\s*#\s*#|#{3,}|-\s*30\s*-|-*\s*ENDS?\s*-*)$", _I)
# "About ..." (a heading): a press release's standing section on its publisher, product,
# disease or trial (clarification 23); not a heading that opens with a quantity ("About a
# third of adults ...", "About 40 percent ...").
_ABOUT = re.compile(
    r"^about\s+(?!(?:a|an|one|two|three|four|five|six|seven|eight|nine|ten|half|twice|as|"
    r"every|some)\b|\d)\S.{0,90}?\s*:?$",
    _I,
)
# Whole paragraphs that are residue wherever they stand: by how they begin, or by what
# they contain anywhere (looked for only where a cheap test finds one of its words).
_PARAGRAPH_START = re.compile(
    r"(?:media|press|news)\s+(?:contacts?|inquiries|relations)\b|contacts?\s*:"
    r"|\(?(?:Reporting|Writing|Editing|Additional reporting) by\b"
    r"|copyright\b|©|\(c\)\s*\d{4}"
    r"|(?:photo|image|video|graphic|illustration)s?(?: credit)?\s*:"
    r"|(?:sign up|subscribe)\b|follow (?:us|[A-Z][\w.]* on)\b"
    r"|(?:editor'?s?'?|editorial) note\s*(?::|[—–]|-\s)"
    r"|notes? to editors\b|this (?:article|story) (?:was )?originally (?:published|appeared)"
    r"|(?:(?:financial )?disclosures?|funding(?: sources?)?|(?:conflicts? of interest"
    r"|competing interests?)(?: disclosures?)?)\s*:"
    r"|(?:SEE ORIGINAL STUDY|Advertisement|AD|Sponsored content)$",
    _I,
)
_PARAGRAPH_ANYWHERE = re.compile(
    r"forward[- ]looking statements?|safe harbor|Private Securities Litigation Reform Act"
    r"|\((?:AP|Reuters|AFP) Photo|\ball rights reserved\b"
    r"|\bnewsletter sign[- ]?up\b|\b(?:sound ?bites|b-roll|broadcast[- ]quality)\b"
    r"|\b(?:may )?earn (?:a )?(?:small )?(?:commission|share of (?:sales|revenue))\b"
    r"|(?-i:\b(?:REUTERS|Reuters|AFP|AP|Getty Images|EPA)\s?/\s?[A-Z][a-z])",
    _I,
)
_PARAGRAPH_HINTS = (
    "forward", "harbor", "litigation", "photo", "reserved", "newsletter",
    "bite", "roll", "broadcast", "earn", "/",
)
# A teaser for another page: a short paragraph that ends by sending the reader there
# ("... a small but growing number of hospitals offer it. See photos.", "<headline> Read
# more"). Short: a whole article scraped as one paragraph may end with a prompt too.
TEASER_MAX_WORDS = 80
_TEASER_END = re.compile(
    r"(?:\bRead more|\bSee (?:more |the )?(?:photos?|pictures|videos?|gallery|slideshow)"
    r"|\bWatch(?: the)? video|\bView (?:the )?(?:gallery|photos|slideshow))\W{0,3}$",
    _I,
)
# Sentences a summary never quotes, even from a paragraph that is otherwise content. The
# pattern runs only on a sentence holding one of _SENTENCE_HINTS (as a word), "@", "©" or
# "www": most sentences hold none, and the test of their words costs far less.
_SENTENCE = re.compile(
    r"forward[- ]looking statements?|safe harbor|undue reliance"
    r"|\b(?:for more information|more information is available)\b"
    r"|\b(?:visit|see|go to)\s+(?:us at\s+)?(?:www\.|https?://|[\w-]+\.(?:com|org|gov|edu)\b)"
    r"|\bclick here\b|\bsign up\b|\bsubscribe\b|\bnewsletter\b|\bfollow (?:us|@)"
    r"|\b(?:on|at) (?:Twitter|Facebook|Instagram|LinkedIn)\b|\bshare (?:this|on)\b"
    r"|[\w.+-]+@[\w-]+\.(?:com|org|edu|gov|net)\b"
    r"|\b(?:Reporting|Editing) by\b|\b(?:AP|Reuters|AFP) Photo\b|\bGetty Images\b"
    r"|\bistock(?:photo)?\b|\bShutterstock\b|\b(?:photo|image) credit"
    r"|\bcopyright\b|©|\ball rights reserved\b|\breproduced with permission\b"
    r"|\bRead more\b|\bRelated:|\bcomments? (?:below|section)\b|\bleave a (?:comment|reply)\b"
    r"|\bEditor'?s note\b|\banswered readers'? questions\b|\bfollow-up here\b"
    r"|\bverify (?:you are|you're) (?:not )?a (?:human|robot)\b"
    r"|\b(?:enable|supports?) JavaScript\b"
    r"|\bthis (?:article|story|post) (?:was|has been) (?:updated|corrected)\b"
    r"|\bthis (?:article|story|post|piece|column|report) is (?:part|one) of\b"
    r"|\ban? (?:weekly|monthly|daily|regular|occasional|ongoing|recurring) column\b"
    r"|\b(?:weekly|monthly|occasional) series\b|^part of an? (?:[\w-]+ ){0,2}series\b"
    r"|\bis (?:a|an) (?:[\w-]+ ){0,4}(?:company|organization|organisation|institution"
    r"|nonprofit|non-profit|society|association|foundation) (?:that|which|dedicated|"
    r"committed|focused|with|whose|of more than)\b|\bwww\.",
    _I,
)
_SENTENCE_HINTS = frozenset(
    "forward forward-looking harbor reliance information visit see go click sign subscribe "
    "newsletter follow twitter facebook instagram linkedin share reporting editing ap reuters afp "
    "getty istock istockphoto shutterstock photo image copyright reserved reproduced read "
    "related comment comments leave editor editor's editor’s editors readers readers' readers’ "
    "answered follow-up verify enable support supports javascript updated corrected company "
    "organization organisation institution nonprofit non-profit society association "
    "foundation part column series".split()
)
_WORDS = re.compile(r"[\w'’-]+")
# The patterns spell apostrophes straight; pages often print them curly (U+2019, U+2018).
_STRAIGHT = str.maketrans("\u2019\u2018", "''")
_PHONE = re.compile(r"\(?\b\d{3}\)?[-. ]\d{3}[-.]\d{4}\b")
# Related-story headlines a page inserted into the text, each under a label in capitals:
# "... COURT: Thimerosal in vaccine didn't cause autism AUTISM: More likely in kids ...".
_INSERTED_HEADLINES = re.compile(r"\b[A-Z]{3,}: [A-Z][^.:]{5,120}?\b[A-Z]{3,}: [A-Z]")
# A publisher's self-description opening: "Founded in 1905, the Society ...".
_SELF_DESCRIPTION = re.compile(r"^(?:Founded|Established|Headquartered) in (?:\d{4}|[A-Z])")


def _is_heading(text: str) -> bool:
    return len(text.split()) <= 12 and text.rstrip()[-1:] not in ".!?\"”"


def residue_paragraphs(texts: Sequence[str]) -> list[bool]:
    """Which paragraphs of an article (in reading order) are page residue: those after an
    end marker, those of an "About ..." section up to the next heading, and
    those that are residue on their own."""
    marks: list[bool] = []
    ended = about = False
    for text in texts:
        stripped = text.strip().translate(_STRAIGHT)
        if _END_MARKER.match(stripped):
            ended = True
            marks.append(True)
            continue
        heading = _is_heading(stripped)
        if heading:
            about = bool(_ABOUT.match(stripped))
        marks.append(ended or about or _is_residue_paragraph(stripped))
    return marks


def _is_residue_paragraph(text: str) -> bool:
    if _PARAGRAPH_START.match(text):
        return True
    if _TEASER_END.search(text[-40:]) and len(text.split()) <= TEASER_MAX_WORDS:
        return True
    lowered = text.lower()
    return any(hint in lowered for hint in _PARAGRAPH_HINTS) and bool(
        _PARAGRAPH_ANYWHERE.search(text)
    )


def is_residue_sentence(sentence: str, words: Iterable[str] | None = None) -> bool:
    """Whether a sentence is page residue that no summary may quote; ``words``, the
    sentence's lower-cased words when the caller has them, spares finding them again
    (``_SENTENCE_HINTS`` holds a hint word with either apostrophe, as callers spell it)."""
    sentence = sentence.translate(_STRAIGHT)
    if _SELF_DESCRIPTION.match(sentence) or (
        ": " in sentence and _INSERTED_HEADLINES.search(sentence)
    ):
        return True
    lowered = sentence.lower()
    hinted = (
        "@" in sentence or "©" in sentence or "www" in lowered
        or not _SENTENCE_HINTS.isdisjoint(_WORDS.findall(lowered) if words is None else words)
    )
    if hinted and _SENTENCE.search(sentence):
        return True
    return _PHONE.search(sentence) is not None
