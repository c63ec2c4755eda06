"""The outlet (news organisation or press office's host) an article's URL comes from.

Cross-validation groups articles by outlet, and the real held-out set is drawn from
outlets that training never sees: both need one answer to "who published this?".
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

_ARCHIVED = re.compile(r"^https?://web\.archive\.org/web/[^/]+/(.+)$", re.IGNORECASE)
# Hosts of one organisation under several names (sections, blogs, old domains, owners).
FAMILIES: dict[str, str] = {
    "healthday.com": "healthday",
    "reuters.com": "reuters",
    "webmd.com": "webmd",
    "nytimes.com": "nytimes",
    "latimes.com": "latimes",
    "washingtonpost.com": "washingtonpost",
    "wsj.com": "wsj",
    "cnn.com": "cnn",
    "usatoday.com": "usatoday",
    "nbcnews.com": "nbcnews",
    "msnbc.msn.com": "nbcnews",
    "today.com": "nbcnews",
    "philly.com": "philly",
    "usnews.com": "usnews",
    "time.com": "time",
    "ap.org": "ap",
    "apnews.com": "ap",
    "buzzfeed.com": "buzzfeed",
    "buzzfeednews.com": "buzzfeed",
    "chicagotribune.com": "chicagotribune",
    "bostonglobe.com": "bostonglobe",
    "boston.com": "bostonglobe",
    "bloomberg.com": "bloomberg",
    "businessweek.com": "bloomberg",
    "nih.gov": "nih",
    "jamanetwork.com": "jama",
    "mayoclinic.org": "mayoclinic",
}


def host(url: str) -> str:
    """The host of a URL without ``www.``, looking through a Wayback Machine address."""
    match = _ARCHIVED.match(url.strip())
    if match:
        url = match.group(1)
    if "://" not in url:
        url = "http://" + url
    name = (urlsplit(url).hostname or "").lower()
    return name.removeprefix("www.").removeprefix("www2.")


def outlet(url: str) -> str:
    """The organisation behind a URL: a family name for hosts in FAMILIES (and their
    subdomains), otherwise the host itself; ``unknown`` when there is none."""
    name = host(url)
    if not name:
        return "unknown"
    parts = name.split(".")
    for k in range(len(parts) - 1):
        family = FAMILIES.get(".".join(parts[k:]))
        if family is not None:
            return family
    return name
