"""Template grammar: fills '{slot}' templates from one language's vocabulary, with gender agreement.

Template syntax: '{name}' or '{name.transform}' (e.g. '{thing.acc}' in German). A vocabulary entry is a Word
(a phrase; nouns may end in '~f' or '~n', default masculine), Forms ('bueno/buena': agrees with the gender of
the last noun filled), or a Template (an entry holding '{...}', e.g. a headline naming a team).

Slots resolve, at compile time, to one of: a language-wide list (SLOTS: pos, neg, time...), a topic list
(thing, act, news, tag, emo...), a noun (thing, thing2, ent, pthing: these set the gender), or a value from
the context (num, user, link, pii).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import ModuleType
from typing import Callable, NamedTuple

from . import lexicon

_SLOT = re.compile(r"\{(\w+)(?:\.(\w+))?\}")
NOUNS = {"thing": "thing", "thing2": "thing", "ent": "ent", "pthing": "thing"}  # slot -> topic list
CONTEXT_SLOTS = ("num", "user", "link", "pii")
LANG, TOPIC, NOUN, CONTEXT = range(4)


class Word(NamedTuple):
    text: str
    gender: str = "m"


class Forms(NamedTuple):
    m: str
    f: str


class Template(NamedTuple):
    parts: tuple  # str literals and Slots


class Slot(NamedTuple):
    kind: int  # LANG, TOPIC, NOUN or CONTEXT
    key: object  # LANG: the entries; TOPIC/NOUN: the topic list name; CONTEXT: the slot name
    name: str
    transform: Callable[[str, str], str] | None


def _entry(text: str) -> Word | Forms | str:
    if "{" in text:
        return text  # compiled by the Phrasebook, which knows the slots
    if text.count("/") == 1 and " / " not in text and not text[0].isdigit():
        return Forms(*text.split("/"))
    text, _, gender = text.partition("~")
    return Word(text, gender or "m")


def _topic(name: str, spec: dict) -> dict:
    """A topic's lists in one language: its own, plus the shared names, hashtags and emoji."""
    t = {k: tuple(map(_entry, lexicon.split(v))) for k, v in spec.items() if k != "tag"}
    t.setdefault("ent", tuple(map(_entry, lexicon.ENTITIES.get(name, ()))) or t["thing"])
    t["tag"] = tuple(Word("#" + w) for w in lexicon.split(spec.get("tag", "")) + lexicon.TAGS[name])
    t["emo"] = tuple(map(Word, lexicon.EMOJI[name]))
    return t


@dataclass
class Context:
    """What a template needs beyond the vocabulary: randomness, the post's topic, and the conversation."""

    rnd: Callable[[], float]
    topic: dict
    mention: Callable[[], str]  # -> '@handle' of another user
    link: Callable[[], str]  # -> a short link (spam)
    pfocus: Word | None = None  # the parent post's focus noun, for replies and quotes
    pii: str = ""
    gender: str = "m"
    focus: Word | None = None  # first noun filled: what the post is about, for replies to it
    used: set = field(default_factory=set)


class Phrasebook:
    """The compiled vocabulary and templates of one language."""

    def __init__(self, module: ModuleType):
        self.code = module.CODE
        self.spaced, self.cased = module.SPACED, module.CASED
        self.finish = getattr(module, "finish", None)
        self.transforms = getattr(module, "TRANSFORMS", {})
        # Language-wide slots are plain words; topic entries may be templates over the topic's own lists
        # ('{ent} sign a striker'), compiled once every list exists.
        self.slots = {name: tuple(map(_entry, lexicon.split(s))) for name, s in module.SLOTS.items()}
        if any(isinstance(e, str) for entries in self.slots.values() for e in entries):
            raise ValueError(f"{self.code}: SLOTS entries cannot be templates")
        raw = {name: _topic(name, module.TOPICS[name]) for name in lexicon.TOPIC_NAMES}
        self.topic_lists = set.intersection(*(set(t) for t in raw.values()))  # what every topic has
        self.topics = {name: {k: tuple(self.compile(e) if isinstance(e, str) else e for e in v) for k, v in t.items()}
                       for name, t in raw.items()}
        self.templates = {name: tuple(self.compile(t) for t in lexicon.split(s))
                          for name, s in module.TEMPLATES.items()}

    def compile(self, text: str) -> Template:
        """'{thing} is {pos}.' -> Template((Slot(NOUN, 'thing', ...), ' is ', Slot(LANG, <pos entries>, ...), '.'))."""
        parts, at = [], 0
        for m in _SLOT.finditer(text):
            if m.start() > at:
                parts.append(text[at : m.start()])
            name, transform = m.group(1), self.transforms[m.group(2)] if m.group(2) else None
            if name in CONTEXT_SLOTS:
                parts.append(Slot(CONTEXT, name, name, transform))
            elif name in NOUNS:
                parts.append(Slot(NOUN, NOUNS[name], name, transform))
            elif name in self.slots:
                parts.append(Slot(LANG, self.slots[name], name, transform))
            elif name in self.topic_lists:
                parts.append(Slot(TOPIC, name, name, transform))
            else:
                raise ValueError(f"{self.code}: template {text!r} uses {{{name}}}, which some topic lacks")
            at = m.end()
        if at < len(text):
            parts.append(text[at:])
        return Template(tuple(parts))

    def sentence(self, kind: str, ctx: Context) -> str:
        """One filled template of `kind` ('post', 'question', 'reply', ...), after the language's finishing rules."""
        items = self.templates[kind]
        text = self.fill(items[int(ctx.rnd() * len(items))], ctx)
        return self.finish(text) if self.finish else text

    def fill(self, template: Template, ctx: Context) -> str:
        out = []
        rnd = ctx.rnd
        for p in template.parts:
            if p.__class__ is str:
                out.append(p)
                continue
            kind, key, name, transform = p
            if kind == LANG:
                entry = key[int(rnd() * len(key))]
            elif kind == TOPIC:
                items = ctx.topic[key]
                entry = items[int(rnd() * len(items))]
            elif kind == NOUN:
                entry = self._noun(name, key, ctx)
            else:
                out.append(self._context(name, ctx))
                continue
            cls = entry.__class__
            if cls is Word:
                text = entry[0]
            elif cls is Forms:
                text = entry[1] if ctx.gender == "f" else entry[0]
            else:
                text = self.fill(entry, ctx)
            out.append(transform(text, ctx.gender) if transform else text)
        return "".join(out)

    @staticmethod
    def _noun(name: str, key: str, ctx: Context):
        if name == "pthing" and ctx.pfocus is not None:
            entry = ctx.pfocus
        else:
            items = ctx.topic[key]
            entry = items[int(ctx.rnd() * len(items))]
            if name == "thing2":  # a second, different noun: "X > Y"
                for _ in range(3):
                    if entry.__class__ is not Word or entry.text not in ctx.used:
                        break
                    entry = items[int(ctx.rnd() * len(items))]
        if entry.__class__ is Word:
            ctx.gender = entry.gender
            ctx.used.add(entry.text)
            if ctx.focus is None:
                ctx.focus = entry
        return entry

    @staticmethod
    def _context(name: str, ctx: Context) -> str:
        if name == "num":
            return str(2 + int(ctx.rnd() * ctx.rnd() * 14))  # small numbers are the common ones
        if name == "user":
            return ctx.mention()
        if name == "link":
            return ctx.link()
        return ctx.pii
