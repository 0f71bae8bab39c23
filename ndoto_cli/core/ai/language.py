"""The customer's language, and what depends on it: the instruction to answer in it, the handoff
keywords and the handoff message given for it.

Detection is py3langid (langid.py's maintained fork, BSD-3), chosen by measurement against
lingua, langdetect, fastText, CLD2 and CLD3 on short customer messages in eight languages:
restricted to a set of languages it was right on 112 of 112 at a confidence of 0.7 and abstained
on nearly every one-word message ("ok", "hi", "4521"), in 0.02-0.04 ms a message once loaded
(about 1 s and 90 MB, once per process; lingua was as accurate but loads in 2.4 s and 176 MB). Restricting matters: the bot's ``languages``, else :data:`DEFAULT_LANGUAGES`.
Below the threshold the conversation keeps the language it had: a customer who writes "ok"
after two French messages is still writing French.

A handoff keyword may start with a language code and a colon (``fr:parler à un humain``): it then
applies when the customer writes that language, or when the language is not known yet. A bot's
``handoff_messages`` gives its handoff message per language (``handoff_message`` otherwise).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

from ndoto_cli.core.errors import Invalid

THRESHOLD = 0.7
NAMES = {  # every language py3langid's model knows (tests/ai/test_language.py pins the two together)
    "ace": "Acehnese", "af": "Afrikaans", "am": "Amharic", "an": "Aragonese", "ar": "Arabic",
    "ary": "Moroccan Arabic", "arz": "Egyptian Arabic", "as": "Assamese", "az": "Azerbaijani", "ba": "Bashkir",
    "bcl": "Central Bikol", "be": "Belarusian", "bg": "Bulgarian", "bn": "Bengali", "br": "Breton", "bs": "Bosnian",
    "ca": "Catalan", "crh": "Crimean Tatar", "cs": "Czech", "cy": "Welsh", "da": "Danish", "de": "German",
    "dz": "Dzongkha", "el": "Greek", "en": "English", "eo": "Esperanto", "es": "Spanish", "et": "Estonian",
    "eu": "Basque", "ext": "Extremaduran", "fa": "Persian", "fi": "Finnish", "fo": "Faroese", "fr": "French",
    "fuv": "Nigerian Fulfulde", "fy": "Western Frisian", "ga": "Irish", "gcf": "Guadeloupean Creole",
    "gcr": "Guianese Creole", "gd": "Scottish Gaelic", "gl": "Galician", "gom": "Goan Konkani",
    "grc": "Ancient Greek", "gu": "Gujarati", "gug": "Paraguayan Guarani", "guw": "Gun", "ha": "Hausa",
    "hbo": "Ancient Hebrew", "he": "Hebrew", "hi": "Hindi", "hr": "Croatian", "ht": "Haitian Creole",
    "hu": "Hungarian", "hy": "Armenian", "id": "Indonesian", "ig": "Igbo", "is": "Icelandic", "it": "Italian",
    "ja": "Japanese", "jv": "Javanese", "ka": "Georgian", "kab": "Kabyle", "kik": "Kikuyu", "kk": "Kazakh",
    "km": "Khmer", "kn": "Kannada", "ko": "Korean", "ku": "Kurdish", "ky": "Kyrgyz", "la": "Latin",
    "lb": "Luxembourgish", "lg": "Ganda", "lij": "Ligurian", "ln": "Lingala", "lo": "Lao", "lt": "Lithuanian",
    "ltg": "Latgalian", "lv": "Latvian", "mg": "Malagasy", "mk": "Macedonian", "ml": "Malayalam", "mn": "Mongolian",
    "mr": "Marathi", "ms": "Malay", "mt": "Maltese", "my": "Burmese", "ne": "Nepali", "nl": "Dutch",
    "nn": "Norwegian Nynorsk", "no": "Norwegian", "nso": "Northern Sotho", "oc": "Occitan", "om": "Oromo",
    "or": "Odia", "pa": "Punjabi", "pcm": "Nigerian Pidgin", "pl": "Polish", "ps": "Pashto", "pt": "Portuguese",
    "qu": "Quechua", "ro": "Romanian", "ru": "Russian", "rw": "Kinyarwanda", "sa": "Sanskrit",
    "sdh": "Southern Kurdish", "se": "Northern Sami", "si": "Sinhala", "sk": "Slovak", "sl": "Slovenian",
    "sn": "Shona", "so": "Somali", "sq": "Albanian", "sr": "Serbian", "st": "Southern Sotho", "sv": "Swedish",
    "sw": "Swahili", "ta": "Tamil", "te": "Telugu", "tg": "Tajik", "th": "Thai", "tk": "Turkmen", "tl": "Tagalog",
    "tr": "Turkish", "tt": "Tatar", "ug": "Uyghur", "uk": "Ukrainian", "ur": "Urdu", "uz": "Uzbek",
    "uzs": "Southern Uzbek", "vec": "Venetian", "vi": "Vietnamese", "vo": "Volapük", "wa": "Walloon",
    "wuu": "Wu Chinese", "xh": "Xhosa", "yo": "Yoruba", "yue": "Cantonese", "zh": "Chinese", "zu": "Zulu",
}
# Where a bot names no languages: the world's most written ones and Africa's.
DEFAULT_LANGUAGES = ("en", "fr", "es", "pt", "de", "it", "nl", "sw", "zu", "xh", "af", "rw", "am", "ha", "yo", "ig", "so",
                     "sn", "st", "lg", "ln", "ar", "zh", "ja", "ko", "ru", "pl", "tr", "hi", "id", "vi")
_PREFIX = re.compile(r"^([a-z]{2,3}):(.+)$", re.DOTALL)


@dataclass(frozen=True)
class Language:
    code: str
    confidence: float

    @property
    def name(self) -> str:
        return NAMES.get(self.code, self.code)


def check_code(code: str, field: str = "languages") -> str:
    value = str(code).strip().lower()
    if value not in NAMES:
        raise Invalid(f"{code!r} is not a language code Ndoto can detect (ISO 639-1, like en, fr, sw)", field=field)
    return value


def split_keyword(keyword: str) -> tuple[str | None, str]:
    """``fr:parler à un humain`` -> ("fr", "parler à un humain"); a keyword for any language -> (None, it)."""
    found = _PREFIX.match(keyword.strip())
    if found and found.group(1) in NAMES:
        return found.group(1), found.group(2).strip()
    return None, keyword


def keywords_for(keywords: list[str], language: str | None) -> list[str]:
    """The handoff keywords that apply: every one without a language, and those of the
    customer's language (all of them while the language is not known)."""
    out = []
    for keyword in keywords:
        code, phrase = split_keyword(keyword)
        if code is None or language is None or code == language:
            out.append(phrase)
    return out


def handoff_message(bot: Any, language: str | None) -> str:
    messages = getattr(bot, "handoff_messages", None) or {}
    return messages.get(language or "", "") or bot.handoff_message


def instruction(language: Language | None) -> str:
    return f"The customer writes in {language.name}: answer in {language.name}." if language else ""


_lock = threading.Lock()
_loaded: list[Any] = []


def _identifier() -> Any:
    """py3langid's identifier over all its languages, loaded once per process (about 1 s, 90 MB).
    One for every bot: a restriction is a renormalisation of its probabilities (the same as
    py3langid's ``set_languages``, whose softmax over a subset is that), not another model."""
    with _lock:
        if not _loaded:
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            _loaded.append(LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True))
        return _loaded[0]


def detect(text: str, languages: list[str] | tuple[str, ...] | None = None, *, threshold: float = THRESHOLD) -> Language | None:
    """The language of ``text`` among ``languages`` when the detector is confident, else None
    (a word or two, digits, emoji: too little to tell)."""
    words = re.findall(r"[^\W\d_]{2,}", text)
    if not words:
        return None
    chosen = set(languages or DEFAULT_LANGUAGES) & set(NAMES)
    if len(chosen) == 1:
        return Language(chosen.pop(), 1.0)
    scores = {code: p for code, p in _identifier().rank(text) if code in chosen}
    total = sum(scores.values())
    if not scores or total <= 0:
        return None
    code, probability = max(scores.items(), key=lambda item: item[1])
    probability /= total
    return Language(str(code), float(probability)) if probability >= threshold else None


SHORT = 3  # words: a message shorter than this says little about its language ("ok merci")


def of_conversation(latest: str, earlier: list[str], languages: list[str] | None, known: str | None = None) -> Language | None:
    """The customer's language for this turn. A message of a few words or more tells it when the
    detector is confident; a shorter one ("ok merci", "thanks!") keeps the language the
    conversation had (``known``), else is read together with the customer's earlier messages."""
    words = len(re.findall(r"[^\W\d_]{2,}", latest))
    if words >= SHORT:
        found = detect(latest, languages)
        if found is not None:
            return found
    if known:
        return Language(known, 0.0)
    return detect("\n".join([*earlier, latest]), languages)
