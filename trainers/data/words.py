"""A built-in English word list and seeded sentences for the speech synthesisers to speak.

Sentences are drawn from a handful of templates over word classes (about 400 common words), so they
have the rhythm of ordinary speech (function words, content words, questions, short and long phrases)
without any external text. The same generator state always gives the same sentence.
"""

from __future__ import annotations

import numpy as np

WORDS: dict[str, tuple[str, ...]] = {
    "det": ("the", "a", "this", "that", "every", "one", "my", "your", "our", "their", "some", "no"),
    "pron": ("I", "you", "we", "they", "she", "he", "someone", "everybody", "nobody"),
    "adj": (
        "old", "new", "small", "large", "long", "short", "red", "green", "blue", "dark", "bright",
        "quiet", "loud", "warm", "cold", "early", "late", "quick", "slow", "young", "happy", "tired",
        "simple", "strange", "heavy", "light", "empty", "full", "clean", "wet", "dry", "hard", "soft",
        "fresh", "busy", "careful", "famous", "hungry", "open", "wide", "narrow", "friendly", "gentle",
        "golden", "silver", "wooden", "tall", "little", "great", "good", "important", "different",
    ),
    "noun": (
        "house", "garden", "river", "window", "table", "door", "road", "city", "village", "market",
        "school", "teacher", "doctor", "child", "mother", "father", "friend", "neighbour", "farmer",
        "driver", "train", "car", "boat", "bridge", "station", "letter", "book", "paper", "story",
        "song", "picture", "kitchen", "bread", "water", "coffee", "apple", "dinner", "morning",
        "evening", "winter", "summer", "weather", "rain", "wind", "snow", "mountain", "forest", "field",
        "tree", "flower", "bird", "horse", "dog", "cat", "fish", "clock", "phone", "computer", "radio",
        "engine", "machine", "office", "meeting", "question", "answer", "idea", "problem", "number",
        "minute", "hour", "week", "island", "ocean", "beach", "shop", "street", "corner", "hill",
        "lamp", "chair", "bottle", "basket", "coat", "shoe", "key", "box", "map", "ticket", "voice",
    ),
    "verb_past": (
        "opened", "closed", "carried", "painted", "cleaned", "found", "lost", "bought", "sold", "built",
        "watched", "followed", "called", "visited", "answered", "wrote", "read", "saw", "heard",
        "brought", "moved", "pushed", "pulled", "fixed", "dropped", "caught", "left", "kept", "sent",
        "showed", "turned", "washed", "counted", "borrowed", "described", "remembered", "noticed",
    ),
    "verb_base": (
        "open", "close", "carry", "paint", "clean", "find", "buy", "build", "watch", "follow", "call",
        "visit", "answer", "write", "read", "see", "hear", "bring", "move", "fix", "catch", "keep",
        "send", "show", "turn", "wash", "count", "borrow", "describe", "remember", "check", "finish",
    ),
    "verb_intr": (
        "waited", "laughed", "smiled", "slept", "arrived", "walked", "talked", "listened", "worked",
        "stayed", "danced", "sang", "travelled", "stopped", "started", "returned", "rested", "agreed",
    ),
    "adv": (
        "quickly", "slowly", "quietly", "carefully", "again", "together", "outside", "inside", "today",
        "yesterday", "later", "soon", "always", "never", "often", "sometimes", "almost", "really",
    ),
    "prep": ("in", "on", "near", "behind", "under", "over", "across", "along", "beside", "through",
             "after", "before", "with", "without", "around", "past"),
    "time": ("this morning", "last night", "next week", "on monday", "at noon", "every day",
             "before dinner", "after school", "in the spring", "at the weekend", "by tomorrow"),
    "modal": ("will", "can", "should", "might", "must", "could", "would"),
    "num": ("two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "twelve", "twenty"),
}
"""Word classes; every word is lower case except the pronoun ``I``."""

TEMPLATES: tuple[tuple[str, ...], ...] = (
    ("det", "adj", "noun", "verb_past", "det", "noun"),
    ("det", "noun", "verb_past", "det", "adj", "noun", "prep", "det", "noun"),
    ("pron", "verb_intr", "adv"),
    ("pron", "verb_intr", "prep", "det", "adj", "noun", "time"),
    ("pron", "modal", "verb_base", "det", "noun", "time"),
    ("?did", "pron", "verb_base", "det", "adj", "noun", "prep", "det", "noun"),
    ("det", "num", "adj", "noun", "verb_intr", "prep", "det", "noun"),
    ("?where", "modal", "pron", "verb_base", "det", "noun"),
    ("det", "noun", "prep", "det", "noun", "verb_intr", "adv", "time"),
    ("pron", "verb_past", "det", "noun", "and", "det", "adj", "noun"),
)
"""Sentence shapes: a slot is a word class, a literal word, or ``?word`` (a question opening on ``word``)."""


def compose_sentence(rng: np.random.Generator) -> str:
    """One sentence from a random template, capitalised, ending in ``.`` or ``?``."""
    template = TEMPLATES[int(rng.integers(len(TEMPLATES)))]
    question = template[0].startswith("?")
    words = []
    for slot in template:
        if slot.startswith("?"):
            words.append(slot[1:])
        elif slot in WORDS:
            choices = WORDS[slot]
            words.append(choices[int(rng.integers(len(choices)))])
        else:
            words.append(slot)
    text = " ".join(words)
    return text[0].upper() + text[1:] + ("?" if question else ".")


def compose_text(rng: np.random.Generator, n_sentences: int) -> str:
    """``n_sentences`` sentences joined by spaces (what one clip speaks)."""
    return " ".join(compose_sentence(rng) for _ in range(n_sentences))


def vocabulary() -> frozenset[str]:
    """Every distinct word the sentences can use (multi-word time phrases split, template words included)."""
    listed = {word for words in WORDS.values() for phrase in words for word in phrase.split()}
    literal = {slot.lstrip("?") for template in TEMPLATES for slot in template if slot not in WORDS}
    return frozenset(listed | literal)
