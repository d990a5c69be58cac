"""One module per language, each written for Warble: names, slot vocabularies, sentence templates, topics.

A language module defines CODE, WEIGHT (default share of posts), TZ (typical UTC offset, for daily cycles),
SPACED (words separated by spaces), CASED (has letter case), LOWERCASE_USERS, FIRST/LAST (display names),
HANDLE_WORDS (and HANDLE_FIRST/HANDLE_LAST where names are not in Latin script), SLOTS, TEMPLATES, TOPICS,
and optionally `finish(text)` (contractions, elision, particles) and TRANSFORMS (e.g. German accusative).
"""

from . import de, en, es, fr, ja, ko, pt

MODULES = {m.CODE: m for m in (en, es, pt, ja, fr, de, ko)}
