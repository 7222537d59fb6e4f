"""Query understanding learnt from the corpus: abbreviations, spelling and symbol variants, follow-ups.

Nothing here is a hand list of domain terms. Abbreviation pairs are mined from
the papers ("multivesicular bodies (MVBs)"), spelling variants are kept only
when the corpus uses the variant, and a follow-up borrows the previous turn's
topic only when the new question cannot stand on its own. What the corpus holds
(its words, terms and abbreviations) comes from the index's lexicon (``qa.lexicon``),
worked out when the index was built.
"""

from __future__ import annotations

import bisect
import difflib
import itertools
import math
import os
import re
from dataclasses import dataclass, field, replace

from qa.lexicon import Lexicon
from qa.text import COUNT, GREEK_NAMES, NUMBER, WORD, fold_accents, index_terms, strip_refs, words

# British -> American spellings as general English rules (applied only when the result is a corpus word).
_SPELLING_RULES = [
    ("ours", "ors"), ("our", "or"), ("isation", "ization"), ("ise", "ize"), ("ised", "ized"),
    ("ising", "izing"), ("yse", "yze"), ("ysed", "yzed"), ("ae", "e"), ("oe", "e"), ("tre", "ter"),
    ("lled", "led"), ("lling", "ling"), ("ogue", "og"), ("aemia", "emia"), ("haem", "hem"),
]
_SYMBOLS = {name: symbol for symbol, name in GREEK_NAMES.items() if symbol.islower() or symbol == "Δ"}
# The Latin letter people type for a Greek one in a name (TGF-b, HIF-1a, NF-kB, avb6 for αvβ6); a spelling
# is taken only when the corpus uses it, and only for a word of at most this many such letters (2^n spellings).
_LATIN_FOR_GREEK = {"a": "α", "b": "β", "g": "γ", "d": "δ", "k": "κ"}
_LATIN_FOR_GREEK_MAX = 4
# Words that make a question lean on the turn before it ("something similar", "an example?").
_ANAPHORA = {"it", "its", "they", "them", "their", "this", "that", "these", "those", "there", "such",
             "he", "she", "his", "her", "one", "ones", "same", "also", "too", "well", "similar", "similarly",
             "likewise", "else", "another", "example", "examples", "instance"}
_FOLLOW_OPENERS = ("and ", "what about", "how about", "and what", "what of", "but ", "also ", "so ")
_COMPARE_CUES = {"both", "compare", "comparison", "agree", "disagree", "differ", "difference", "versus",
                 "contrast"}
_PAPER_WORDS = {"paper", "papers", "review", "reviews", "authors", "articles"}
# How a question asks what a paper says ("what do the reviews report about ..."): the frame, not the subject.
_REPORTING_VERBS = {"say", "says", "report", "reports", "describe", "describes", "mention", "mentions", "discuss",
                    "discusses", "state", "states", "write", "writes", "claim", "claims"}
# How people pad a question (interjections, hedges, requests to explain): the asking, not the subject.
_FILLER = {"wait", "hey", "hi", "hello", "ok", "okay", "oh", "um", "hmm", "well", "so", "please", "thanks", "thank",
           "really", "exactly", "actually", "basically", "just", "simply", "literally", "honestly", "seriously",
           "anyone", "someone", "somebody", "explain", "tell", "know", "wondering", "wonder", "curious", "question",
           "quick", "briefly", "simple", "layman", "terms", "eli5", "guys", "everyone", "mean", "means", "happen",
           "happens", "happened", "true", "false", "myth", "myths", "fact", "facts", "check", "hear", "heard", "right",
           "correct", "wrong", "possible"}
# A misspelt word (supression) is taken for the corpus word it is this close to (difflib's ratio; one
# letter dropped or doubled in a 7-letter word scores 0.92, a swap of two letters 0.86).
TYPO_SIMILARITY = 0.88
TYPO_MIN_LENGTH = 7
# A shorter word (down to TYPO_SHORT_LENGTH letters) is taken for a misspelling only when English does not
# use it (wordfreq's Zipf below TYPO_SHORT_ZIPF: relase 1.4, marow 0, tregs 1.5): the 4-6 letter English
# words of the question sets sit near other corpus words at this similarity (real ~ renal, live ~ liver,
# heart ~ heat, rain ~ brain) and are all at Zipf 2.2 or more (lavage 2.2, blots 2.3, the rest above 3).
TYPO_SHORT_LENGTH = 5
TYPO_SHORT_ZIPF = 2.0
# Two stems are forms of one word when their shared beginning is at least this share of the longer one
# (epithelium ~ epitheli 0.8, quantifying ~ quantit 0.75), so a word that merely starts alike is not
# taken for a corpus word (electroporation ~ electron 0.7, EXOSC10 ~ ExoScreen 0.56, approval ~
# appropriate 0.5): listed over every question word of the fit sets, 0.7 of the shorter stem let those through.
SAME_WORD_SHARE = 0.75
# A word the papers never use whose nearest corpus word (by the model's cosine) is at least this close is
# a paraphrase of it, searched for as that word (bowel ~ gastrointestinal 0.73, spit ~ saliva 0.71,
# kidney ~ renal 0.92, cure ~ treatment 0.71); below it the word is foreign to the papers (hair ~ body
# 0.56, price ~ amount 0.62, PRP ~ PCP 0.59, lump ~ tumor 0.62): measured with the bundled MiniLM.
PARAPHRASE_SIMILARITY = 0.7
# Only everyday English words are taken for paraphrases (wordfreq's Zipf scale: bowel 3.6, spit 3.9, kidney
# 4.0): a technical word near a corpus word is another thing (neuroblastoma ~ glioblastoma 0.71 at Zipf 2.4,
# hypoplasia ~ hypoxia 0.71 at 2.1, EGFR ~ EGFRvIII 0.80 at 2.3). Over all the question sets' unknown
# words, every technical one is below 3.0; above it are lay wording (bowel, spit, kidney, cure, inside ~
# within) and a few slips of the model (camera ~ EpCAM 0.73, git ~ GIST 0.76).
EVERYDAY_ZIPF = 3.0
_CITATION_CUES = {"reference", "references", "cite", "cites", "cited", "citation", "citations", "ref",
                  "refs", "source", "study", "studies", "who"}
_CITATION_TERMS = set(index_terms(" ".join(_CITATION_CUES | {"support", "supports", "show", "shows", "evidence"})))
# A question asking for a quantity wants a number in its answer: a count, a size, a dose, a date, a
# test's or a treatment's statistic (sensitivity, survival rate).
_QUANTITY = re.compile(r"\b(how (many|much|long|big|large|small|often|old)|what (dose|percentage|proportion|"
                       r"fraction|concentration|year|amount|number|temperature|speed|rate)|size|diameter|"
                       r"which year|\bcounts?\b|number of|when (?:was|were|did)|specificity|sensitivity and|"
                       r"diagnostic accuracy|survival rates?|\d+[- ]year survival|median survival|\bauc\b|"
                       r"\bcosts?\b|\bprices?\b)", re.I)
# A yes/no question ("Can exosomes cross the blood-brain barrier?") asks whether a relation holds.
_AUXILIARY_OPENERS = "is|are|can|could|do|does|did|will|would|should|has|have|was|were|may|might"
YES_NO = re.compile(rf"^\s*({_AUXILIARY_OPENERS})\b", re.I)
_QUESTION_WORDS = rf"(?:what|what's|which|who|whom|whose|why|how|where|when|{_AUXILIARY_OPENERS})"
_QUESTION_OPENER = re.compile(rf"^\s*{_QUESTION_WORDS}\b", re.I)
# A statement, a comma (or semicolon, colon or dash), then a question that opens as one: the last such join.
_JOINED_QUESTION = re.compile(rf"^(.*\w.*?)\s*[,;:\u2013\u2014-]\s+({_QUESTION_WORDS}\b[^,;:]*\?)\s*$", re.I)
# Words of a person telling something ("My doctor mentioned exosomes, what are they?"); a joined statement without
# them is the question's subject, a heading ("FasL on exosomes: what role does it play?").
_PERSONAL = {"i", "i'm", "im", "i've", "ive", "me", "my", "mine", "we", "we're", "we've", "us", "our", "you", "your"}
# What a number must look like to answer a question about a kind of quantity (any digit otherwise).
_QUANTITY_FORMS = [
    (re.compile(r"\b(costs?|prices?|priced|fees?|charges?)\b", re.I),
     r"[$£€]|\b(dollars?|pounds?|euros?|usd|gbp|eur)\b"),
    (re.compile(r"\bhow many\b", re.I), COUNT.pattern),
    (re.compile(r"\b(percentage|percent|proportion|fraction|specificity|sensitivity|accuracy|survival|auc)\b", re.I),
     r"%|\bper ?cent|\b0?\.\d+\b"),
    (re.compile(r"\b(dose|dosage|concentration)\b", re.I),
     r"\d\s*(mg|µg|μg|ng|pg|g|ml|µl|μl|mm|µm|μm|nm|pm|m|iu|units?)(/|\b)"),
    (re.compile(r"\b(year|when)\b", re.I), r"\b(1[89]|20)\d\d\b"),
    (re.compile(r"\btemperature\b", re.I), r"°|\bdegrees\b"),
    (re.compile(r"\b(size|diameter|how (big|large|small))\b", re.I), r"\d\s*(nm|µm|μm|mm)\b"),
]
# Figures of speech of article titles and headlines ("Tumour exosomes: friend or foe?") and what they say in plain
# words (general English, whatever the corpus). A figure's words are neither searched for nor taken for words the
# papers never use (a sword, a horse): its plain words stand in its place.
_FIGURES = {
    "double edged sword": "dual role, both helpful and harmful",
    "two edged sword": "dual role, both helpful and harmful",
    "friend or foe": "dual role, helpful or harmful",
    "friend and foe": "dual role, helpful and harmful",
    "foe or friend": "dual role, helpful or harmful",
    "good or bad": "helpful or harmful",
    "good and bad": "helpful and harmful",
    "dark side": "harmful role",
    "hype or hope": "promise and challenges",
    "hope or hype": "promise and challenges",
    "hype and hope": "promise and challenges",
    "hope and hype": "promise and challenges",
    "double agent": "dual role",
    "yin and yang": "opposing roles",
    "trojan horse": "carrier that delivers",
    "achilles heel": "weakness",
    "holy grail": "ideal goal",
    "magic bullet": "targeted therapy",
    "silver bullet": "complete solution",
    "game changer": "major advance",
    "hijack": "exploit", "hijacking": "exploiting", "hijacked": "exploited",
    "tiny messengers": "small mediators of communication", "messengers": "mediators of communication",
    "couriers": "carriers", "cross talk": "crosstalk communication",
    "key player": "important role", "big player": "important role",
}
_PLAIN_READINGS = set(_FIGURES.values())


def _phrase(phrase: str) -> re.Pattern:
    """``phrase`` as written in a question: its words apart by spaces or hyphens, each with a plural "s" or not."""
    return re.compile(r"\b" + r"s?[\s-]+".join(map(re.escape, phrase.split())) + r"s?\b", re.I)


_FIGURE_PATTERNS = [(_phrase(figure), plain) for figure, plain in _FIGURES.items()]
# Lay words for what medical writing names otherwise (general medical English, as consumer health vocabularies have
# them): also searched for as the medical words, and not taken for words the papers never use. Each word of a
# phrase may take a plural "s". Spreading is metastasis only where a cancer spreads (not prions, not parasites).
_LAY_TERMS = {
    "secondaries": "metastases", "secondary cancer": "metastasis", "secondary tumour": "metastasis",
    "secondary tumor": "metastasis", "bowel": "colorectal colon", "stomach": "gastric", "gullet": "esophageal",
    "food pipe": "esophageal", "womb": "uterine", "lump": "tumor", "blood cancer": "leukemia lymphoma myeloma",
    "skin cancer": "melanoma", "brain tumour": "glioma glioblastoma", "brain tumor": "glioma glioblastoma",
    "brain cancer": "glioma glioblastoma", "liver cancer": "hepatocellular carcinoma",
    "killer cell": "natural killer cytotoxic cells", "white blood cell": "leukocytes immune cells", "jab": "vaccine",
    "bubble": "vesicles", "blob": "vesicles", "sac": "vesicles", "test": "diagnostic detection",
    "chemo": "chemotherapy", "fat cell": "adipocytes", "cell suicide": "apoptosis", "programmed cell death": "apoptosis",
    "healthy cell": "normal cells", "pee": "urine",
    **dict.fromkeys(["blood clot", "blood clots", "clot", "clots", "clotting"], "thrombosis coagulation"),
    **dict.fromkeys(["low oxygen", "lack of oxygen", "short of oxygen", "starved of oxygen", "oxygen starved",
                     "without oxygen", "not enough oxygen"], "hypoxia hypoxic"),
}
# Everyday words for the formal ones science writes (general English): treated as lay words.
_EVERYDAY_WORDS = {
    "what's inside": "contents cargo contain", "whats inside": "contents cargo contain",
    "what is inside": "contents cargo contain", "what are inside": "contents cargo contain",
    "come from": "originate derive", "came from": "originate derive", "pump out": "secrete release",
    "give off": "secrete release", "send out": "secrete release", "spit out": "secrete release",
    "take in": "uptake internalize", "taken in": "uptake internalize", "take up": "uptake internalize",
    "taken up": "uptake internalize", "swallow": "uptake internalize", "gobble up": "uptake internalize",
    "get into": "enter uptake", "turn into": "differentiate transform convert",
    "turned into": "differentiate transform convert", "switch off": "inhibit suppress", "shut down": "inhibit suppress",
    "switch on": "activate", "break down": "degrade", "hide from": "evade escape",
    "speed up": "accelerate promote", "slow down": "inhibit reduce", "set up": "establish",
}
_LAY_PATTERNS = [(_phrase(lay), medical) for lay, medical in {**_LAY_TERMS, **_EVERYDAY_WORDS}.items()]
_SPREAD = re.compile(r"\bspread(?:s|ing)?\b", re.I)
# "How are exosomes made?" asks how they form ("what are they made of?" asks for their makeup).
_HOW_MADE = re.compile(r"\bhow\s+(?:is|are|was|were|do|does|did)\b[^?]*?\b(made|created)\b(?!\s+(?:of|up)\b)", re.I)
_CANCER = re.compile(r"\b(?:cancers?|tumou?rs?|carcinomas?|malignan\w*)\b", re.I)


def _lay_words(text: str) -> list[tuple[str, str]]:
    """The lay words and phrases of ``text`` (``_LAY_TERMS``), each with its medical words."""
    found = [(match.group(0), medical) for pattern, medical in _LAY_PATTERNS for match in pattern.finditer(text)]
    if _CANCER.search(text):
        found += [(match.group(0), "metastasis") for match in _SPREAD.finditer(text)]
    found += [(match.group(1), "formed produced biogenesis") for match in _HOW_MADE.finditer(text)]
    return found


# "What is an MVB?", "what are exosomes": a request for a definition of the subject.
# Also "what's X", "what does X mean / stand for", "what is meant by X", "define X", "meaning of X", "X definition",
# and a definition asked before another question.
_DEFINED = r"(?:an?\s+|the\s+)?([\w-]+(?:\s+[\w-]+){0,3})"
_DEFINITIONS = [re.compile(pattern, re.I) for pattern in (
    rf"^\s*what\s+(?:is|are)\s+meant\s+by\s+{_DEFINED}\s*[?.!]*\s*$",
    rf"^\s*what(?:\s+(?:exactly|really|actually))?(?:\s+(?:is|are)|'s|s)\s+{_DEFINED}\s*[?.!]*\s*$",
    rf"^\s*what\s+(?:does|do)\s+{_DEFINED}\s+(?:mean|stand\s+for)\s*[?.!]*\s*$",
    rf"^\s*(?:define|definition\s+of|meaning\s+of)\s+{_DEFINED}\s*[?.!]*\s*$",
    rf"^\s*{_DEFINED}\s*[:,-]?\s+(?:definition|meaning|defined)\s*[?.!]*\s*$",
    # "What are exosomes and how do they work?": the definition first.
    rf"^\s*what(?:\s+(?:is|are)|'s)\s+{_DEFINED}\s*,?\s+and\s+(?:how|what|why|where|when|which|who)\b",
)]
# A question, "and", then another that opens as one: "How are exosomes formed, and how are they released?". A question
# opens with a question word or an auxiliary.
_ASKING = r"(?:how|what|what's|why|where|when|which|who|whose|does|do|did|is|are|can|could|should|will|would)\b"
_QUESTION_OPENING = re.compile(rf"^\s*{_ASKING}", re.I)
_SECOND_QUESTION = re.compile(rf",?\s+and\s+(?={_ASKING})", re.I)
# Words that ask for a definition rather than name the subject.
_DEFINITION_TERMS = set(index_terms("define definition meaning mean meant stand"))
# "What are exosomes made of?", "what does ESCRT consist of?", "what makes up the TME?", "the structure of
# exosomes": a request for what the subject is made of.
_COMPOSITION = [re.compile(pattern, re.I) for pattern in (
    r"\bwhat(?:\s+(?:is|are)|'s|s)\s+(?:an?\s+|the\s+)?(.+?)\s+(?:made(?:\s+up)?|composed|comprised)\s+of\b",
    r"\bwhat\s+(?:does|do)\s+(?:an?\s+|the\s+)?(.+?)\s+(?:consist|comprise)\b",
    r"\bwhat\s+makes\s+up\s+(?:an?\s+|the\s+)?(.+?)\s*[?.!]*$",
    r"\b(?:structure|composition|make-?up|components?)\s+of\s+(?:an?\s+|the\s+)?(.+?)\s*[?.!]*$",
)]
# Longest subject such a question names, in terms (as "what is X?" names at most four words).
COMPOSED_MAX_TERMS = 4
# Words that ask for a makeup rather than name the subject.
_COMPOSITION_TERMS = set(index_terms("structure composition makeup make made composed comprised consist comprise "
                                     "component components"))
# "Which lipids ...", "what kinds of proteins ...": the plural noun whose instances the question asks for.
_LISTED = re.compile(r"\b(?:which|what)\s+(?:(?:kinds?|types?|sorts?)\s+of\s+)?((?:[\w-]+\s+)??[\w-]+s)\b", re.I)
# Words that can stand where a list question's noun would ("what does ...", "which is ...").
_AUXILIARIES = {"do", "does", "did", "is", "are", "was", "were", "has", "have", "had", "can", "could", "may",
                "might", "will", "would", "should", "the", "a", "an", "this", "that", "these", "those", "its"}
_QUANTITY_TERMS = set(index_terms("big large small long many much size sizes often old number amount count"))
# A question asking for a cause or a requirement: "why ...", "what causes / makes / leads to / triggers / drives
# X", "what does X need", "what is required for X", "the reason for X".
CAUSE_QUESTION = re.compile(r"\bwhy\b|\breasons?\b|\bwhat(?:\s+\w+){0,2}?\s+(?:causes?|caused|makes|leads?\s+to|"
                            r"triggers?|drives?)\b|\b(?:what|which)\b.*\b(?:needs?|needed|requires?|required|"
                            r"requirements?|prerequisites?|necessary)\b", re.I)
# Its words that say what kind of answer is wanted, not what about: an answer need not repeat them.
_CAUSE_TERMS = set(index_terms("cause causes caused reason reasons make makes lead leads trigger triggers drive "
                               "drives need needs needed require requires required requirement requirements "
                               "prerequisite prerequisites necessary"))
# A question asking for a means: "how do X ...", "what methods / ways / techniques ...", "what is the mechanism of
# X" (a search for "ways exosomes enter cells" names what it wants found).
_MEANS_WORDS = r"methods?|ways?|techniques?|approach(?:es)?|strateg(?:y|ies)|mechanisms?|means"
MEANS_QUESTION = re.compile(rf"\bhow\s+(?:is|are|do|does|did|can|could|were|was)\b|"
                            rf"\b(?:what|which|compare)\b.*\b(?:{_MEANS_WORDS})\b", re.I)
_MEANS_TERMS = set(index_terms("method methods way ways technique techniques approach approaches strategy strategies "
                               "mechanism mechanisms means"))
_ENTITY = re.compile(r"[A-Z0-9\u0370-\u03ff]")


@dataclass
class Query:
    """A question as the retriever sees it."""

    question: str
    dense_text: str
    terms: list[str]
    focus_terms: list[str]
    doc: str | None = None
    table: int | None = None
    compare: bool = False
    wants_refs: bool = False
    cited_ref: int | None = None
    follow_up: bool = False
    expansions: list[str] = field(default_factory=list)
    context: str = ""  # what a follow-up borrowed from the turn before
    context_terms: list[str] = field(default_factory=list)
    topic_terms: list[str] = field(default_factory=list)  # the question's own content, without citation words
    key_terms: list[str] = field(default_factory=list)  # entity-like words: acronyms, gene and molecule names
    figure: int | None = None
    wants_quantity: bool = False
    defines: list[str] = field(default_factory=list)  # terms of the subject a "what is X?" asks to define
    quantity_form: str = ""  # the pattern an answer's number must match ("%" for a percentage)
    listed: list[str] = field(default_factory=list)  # terms of the plural noun a "which Xs ...?" asks to list
    # The subject a "what is X made of?" asks about: its terms, and those of its abbreviation or long form
    composed: list[list[str]] = field(default_factory=list)
    unknown_words: list[str] = field(default_factory=list)  # content words the corpus never uses, as written
    content_words: int = 0  # the question's content words, known or not
    # Each unknown word's cosine with its nearest corpus word (``QueryAnalyzer.paraphrased``).
    unknown_similarity: list[float] = field(default_factory=list)
    # How many of ``unknown_words``, from the front, are the statement's the question follows ("My doctor
    # mentioned exosomes. What are they?"): they count against answering, but the question is not about them.
    statement_unknown: int = 0


class QueryAnalyzer:
    """Turns a question (and the conversation so far) into a ``Query``."""

    def __init__(self, documents, lexicon: Lexicon):
        self.vocabulary = lexicon.words
        self.term_vocabulary = lexicon.terms
        self._sorted_terms = sorted(self.term_vocabulary)
        # Corpus words a misspelling may be taken for, by length (one letter shorter than the shortest
        # misspelling: a doubled letter makes it one longer): difflib's ratio 2M / (a + b) reaches
        # TYPO_SIMILARITY only for lengths within a factor (2 - T) / T of each other, so only those are compared.
        self._spellable: dict[int, list[str]] = {}
        for w in sorted(self.vocabulary):
            if w.isalpha() and len(w) >= TYPO_SHORT_LENGTH - 1:
                self._spellable.setdefault(len(w), []).append(w)
        self.abbreviations = lexicon.abbreviations
        self.doc_names = _doc_names(documents)
        # A name of word characters only is found among the question's words with one look-up; others
        # (hyphenated surnames) by their own pattern. Searching 1,000 documents' names one pattern each
        # took 60 ms a question (Python's pattern cache holds 512).
        self._docs_by_word: dict[str, list[str]] = {}
        self._name_patterns = []
        for doc, names in self.doc_names.items():
            for name in names:
                if re.fullmatch(r"\w+", name):
                    self._docs_by_word.setdefault(name, []).append(doc)
                else:
                    self._name_patterns.append((re.compile(rf"\b{name}\b"), doc))
        # Words that point at the papers rather than at their content: never search for them.
        self.meta_terms = set(index_terms(" ".join(
            _PAPER_WORDS | _COMPARE_CUES | _REPORTING_VERBS
            | {"two", "each", "according", "et", "al", "table", "figure", "fig", "legend", "caption"} | _FILLER
            | {a.split()[-1] for d in documents for a in d.authors} | set(self.doc_names)))) | _CITATION_TERMS

    def analyze(self, question: str, history: list[dict] | None = None, follows_statement: bool = False) -> Query:
        """The ``Query`` for ``question`` after the conversation ``history``. ``follows_statement``: ``history``'s
        last turn is a statement the question was asked after, which it follows whatever its words."""
        text = _plain(question.strip())
        said, asked = _statement_then_question(text) if not history else ("", text)
        if said and any(t not in self.meta_terms for t in index_terms(said)):
            # "My dad has prostate cancer. Do any exosome markers say anything about survival?": the statement is
            # the turn the question follows, as a follow-up follows the turn before. The words the papers never
            # use count wherever they stand, and a paper may be named in either part. (In a conversation a
            # statement mostly answers the turn before, "Interesting. Why is that?": a follow-up as it is.)
            query = self.analyze(asked, [{"question": said, "answer": ""}], follows_statement=True)
            unknown, content = self.unknown_words(said)
            return replace(query, unknown_words=unknown + query.unknown_words, statement_unknown=len(unknown),
                           content_words=content + query.content_words, doc=query.doc or self._doc(said))
        variants, spelled = self._variants(text)
        lay = _lay_words(text)
        variants += [medical for _, medical in lay]
        # A lay word is asked as its medical words, and a sentence need not hold it: "an exosome test" is a
        # diagnostic one, and "have been tested" only echoes it.
        replaced = (set(index_terms(" ".join(lay_text for lay_text, _ in lay)))
                    - set(index_terms(" ".join(medical for _, medical in lay))))
        expansions = self._expansions(spelled)
        lowered = {w.lower() for w in words(text)}
        focus = [t for t in index_terms(" ".join([text] + variants))
                 if t in self.term_vocabulary and t not in self.meta_terms and t not in replaced]
        dense = " ".join([self._symbolised(text)] + variants + expansions)
        terms = [t for t in index_terms(" ".join([text] + variants + expansions)) if t not in self.meta_terms]
        # "Does hypoxia change how many exosomes are released?" asks whether, not for a count.
        cue = _QUANTITY.search(text)
        wants_quantity = bool(cue) and not (YES_NO.match(text) and cue.group(0).lower() == "how many")
        if wants_quantity:  # "how big", "how many": the kind of answer, not its subject
            focus = [t for t in focus if t not in _QUANTITY_TERMS]
            terms = [t for t in terms if t not in _QUANTITY_TERMS]
        frame = ((_CAUSE_TERMS if CAUSE_QUESTION.search(text) else set())
                 | (_MEANS_TERMS if MEANS_QUESTION.search(text) else set())
                 | (_DEFINITION_TERMS if _definition(text) else set()))
        if frame:
            focus = [t for t in focus if t not in frame]
            terms = [t for t in terms if t not in frame]
        composed = self._composed(spelled)
        if composed:  # "what is the structure of X?": so is "structure"
            focus = [t for t in focus if t not in _COMPOSITION_TERMS]
            terms = [t for t in terms if t not in _COMPOSITION_TERMS]
        # The question's own subject: its content words, known to the corpus or not ("capital", "Australia").
        topic = focus + [t for t in index_terms(text)
                         if t not in self.term_vocabulary and t not in self.meta_terms and t not in replaced | frame]
        # Names of molecules, cells and methods (NKG2D, miR-21, CD8+, HIF-1α) carry a question's meaning.
        key = [t for w in words(text) for part in re.split(r"[-/]", w) if _ENTITY.search(part[1:]) or part.isupper()
               for t in index_terms(part) if t in focus]
        follow_up = bool(history) and (follows_statement or self._leans_on_history(text, topic))
        context, context_terms = "", []
        if follow_up:
            previous = history[-1]
            # With nothing of its own to ask about ("which reference supports that?"), a follow-up is
            # about the previous answer; otherwise it asks the previous question about something new.
            context = previous.get("question", "")
            if not topic:
                context += " " + strip_refs(previous.get("answer", ""))
            context_terms = [t for t in index_terms(self._variants(context)[1])
                             if t in self.term_vocabulary and t not in self.meta_terms]
            terms = terms + topic + context_terms
        cited = re.search(r"\[(\d+)\]|\breference\s+(\d+)\b|\bref\.?\s*(\d+)\b", text, re.I)
        table = re.search(r"\btable\s+(\d+)", text, re.I)
        figure = re.search(r"\b(?:fig\.?|figure)\s*(\d+)", text, re.I)
        unknown, content = self.unknown_words(text, lay)
        return Query(
            question=text,
            dense_text=dense,
            terms=terms,
            focus_terms=focus,
            doc=self._doc(text),
            table=int(table.group(1)) if table else None,
            figure=int(figure.group(1)) if figure else None,
            # "... according to Zhang and according to Bae?" names both papers: a comparison without the word.
            compare=(bool(lowered & _COMPARE_CUES) or bool(lowered & {"two", "each"} and lowered & _PAPER_WORDS)
                     or len(self._named(text)) > 1),
            wants_refs=bool(lowered & _CITATION_CUES) or ("who" in lowered and "show" in " ".join(lowered)),
            cited_ref=int(next(g for g in cited.groups() if g)) if cited else None,
            follow_up=follow_up,
            expansions=variants + expansions,
            context=context,
            context_terms=context_terms,
            topic_terms=topic,
            key_terms=key,
            wants_quantity=wants_quantity,
            defines=[] if composed else _defined(text) or _defined_before(text, context_terms),
            listed=[t for t in _listed(text) if t not in self.meta_terms],
            composed=composed,
            quantity_form=(next((form for cue, form in _QUANTITY_FORMS if cue.search(text)), NUMBER.pattern)
                           if wants_quantity else ""),
            unknown_words=unknown,
            content_words=content,
        )

    def paraphrased(self, query: Query, nearest: list[tuple[str, float]]) -> Query:
        """``query`` with its everyday unknown words (bowel) searched for as the corpus words they paraphrase
        (gastrointestinal); ``nearest``: each unknown word's nearest corpus word and their cosine. The dense
        text stays the question's: the model already reads a paraphrase as what it means."""
        similarities = [similarity for _, similarity in nearest]
        asked = list(zip(query.unknown_words, nearest))[query.statement_unknown:]
        pairs = [(word, near) for word, (near, similarity) in asked
                 if similarity >= PARAPHRASE_SIMILARITY and _everyday(word)]
        if not pairs:
            return replace(query, unknown_similarity=similarities)
        found = [near for _, near in pairs]
        added = [t for t in index_terms(" ".join(found)) if t in self.term_vocabulary and t not in self.meta_terms]
        paraphrased = set(index_terms(" ".join(word for word, _ in pairs)))
        return replace(query, terms=query.terms + added, focus_terms=query.focus_terms + added,
                       topic_terms=[t for t in query.topic_terms if t not in paraphrased] + added,
                       expansions=query.expansions + found, unknown_similarity=similarities)

    def unknown_words(self, question: str, lay: list[tuple[str, str]] | None = None) -> tuple[list[str], int]:
        """The question's content words that the corpus never uses, in any spelling, as written; and how many
        content words. ``lay``: the question's lay words (``_lay_words``), when they are already found."""
        unknown, content = [], 0
        # The plain reading of a figure of speech is the analyzer's wording, not the asker's; a lay word has a
        # medical one.
        plain = {w.lower() for reading in _PLAIN_READINGS if reading in question for w in WORD.findall(reading)}
        plain |= {w.lower() for lay_text, _ in (_lay_words(question) if lay is None else lay)
                  for w in WORD.findall(lay_text)}
        for word in words(question):
            terms = [t for t in index_terms(word) if t not in self.meta_terms]
            if not terms:
                continue
            content += 1
            if not self._known(word, terms) and word.lower() not in plain:
                unknown.append(word)
        return unknown, content

    def _known(self, word: str, terms: list[str]) -> bool:
        """The corpus uses the word whole, all its parts (exosome-bound), a spelling of it, or a longer
        name it begins (p85 -> p85α)."""
        if terms[0] in self.term_vocabulary or all(t in self.term_vocabulary for t in terms[1:] or terms):
            return True
        term = terms[0]
        start = bisect.bisect_left(self._sorted_terms, term)
        if any(c.isdigit() for c in term) and start < len(self._sorted_terms) and self._sorted_terms[start].startswith(term):
            return True
        # Another form of the same word (epithelium ~ epitheli-al, quantifying ~ quantit-ative).
        for neighbour in self._sorted_terms[max(0, start - 1):start + 1]:
            shared = len(os.path.commonprefix([term, neighbour]))
            if shared >= max(5, SAME_WORD_SHARE * max(len(term), len(neighbour))):
                return True
        return self._variant(word) is not None

    def _variants(self, text: str) -> tuple[list[str], str]:
        """Corpus spellings of words the corpus does not use as written (tumour -> tumor, miR21 -> miR-21), and
        the text with each such word spelled so, in which an abbreviation's long form is found ("tumour
        microenvironment" is the corpus's "tumor microenvironment", TME)."""
        found, spelled = [], {}
        tokens = words(text)
        for word, after in zip(tokens, tokens[1:]):
            symbol = _SYMBOLS.get(after.lower())
            if symbol:
                for joined in (word + symbol, f"{word}-{symbol}"):
                    if joined.lower() in self.vocabulary:
                        found.append(joined)
        for word in tokens:
            if word.lower() not in self.vocabulary:
                variant = self._variant(word)
                if variant:
                    found.append(variant)
                    spelled[word] = variant
        return found, WORD.sub(lambda match: spelled.get(match.group(0), match.group(0)), fold_accents(text))

    def _variant(self, word: str) -> str | None:
        """The spelling the corpus uses for ``word`` (tumour -> tumor, miR21 -> mir-21, supression ->
        suppression), if any."""
        low = word.lower()
        candidates = [low.replace(a, b) for a, b in _SPELLING_RULES if a in low]
        candidates += [re.sub(r"^([a-z]+)(\d)", r"\1-\2", low)]
        for name, symbol in _SYMBOLS.items():
            if name in low:
                candidates += [low.replace(name, symbol), low.replace("-" + name, symbol)]
        if is_name(word) or "-" in word:
            candidates += _greek_spellings(low)
        for candidate in candidates:
            if candidate == low:
                continue
            terms = index_terms(candidate)
            if candidate in self.vocabulary or (terms and all(t in self.term_vocabulary for t in terms)):
                return candidate
        if _may_be_misspelt(word):
            reach = (2 - TYPO_SIMILARITY) / TYPO_SIMILARITY
            lengths = range(math.ceil(len(low) / reach), math.floor(len(low) * reach) + 1)
            return _closest(low, [w for n in lengths for w in self._spellable.get(n, ())])
        return None

    def _symbolised(self, text: str) -> str:
        """Spelled-out Greek letters written as the corpus writes them (TGF-beta -> TGF-β)."""
        def swap(match):
            word = match.group(0)
            low = word.lower()
            for name, symbol in _SYMBOLS.items():
                if name in low and low.replace(name, symbol) in self.vocabulary:
                    return re.sub(name, symbol, word, flags=re.I)
            return word
        return WORD.sub(swap, text)

    def _expansions(self, text: str) -> list[str]:
        """Long forms of the abbreviations in ``text`` and abbreviations of its long forms."""
        low = text.lower()
        found = []
        for short, long_forms in self.abbreviations.items():
            for long_form in long_forms:
                if re.search(rf"\b{re.escape(short)}s?\b", low) and long_form not in low:
                    found.append(long_form)
                elif long_form in low and not re.search(rf"\b{re.escape(short)}", low):
                    found.append(short)
        return found

    def _composed(self, text: str) -> list[list[str]]:
        """The subject whose makeup ``text`` asks for, as its terms and its abbreviation's or long form's (tumor
        microenvironment, TME); a subject of more than COMPOSED_MAX_TERMS terms is no such question."""
        match = next(filter(None, (pattern.search(text) for pattern in _COMPOSITION)), None)
        if not match:
            return []
        subject = match.group(1)
        named = [[t for t in index_terms(name) if t not in self.meta_terms]
                 for name in [subject] + self._expansions(subject)]
        return [terms for terms in named if 0 < len(terms) <= COMPOSED_MAX_TERMS]

    @staticmethod
    def _leans_on_history(text: str, topic: list[str]) -> bool:
        """An opener ("and ...", "what about ..."), a pronoun, or at most one word of its own."""
        low = text.lower().strip()
        tokens = {w.lower() for w in words(text)}
        # "ok, but ..." opens with "but" once the padding is off.
        while (first := re.match(r"(\w+)\W+", low)) and first.group(1) in _FILLER:
            low = low[first.end():]
        return low.startswith(_FOLLOW_OPENERS) or bool(tokens & _ANAPHORA) or len(set(topic)) <= 1

    def _named(self, text: str) -> set[str]:
        """The documents ``text`` names (by an author's name or the document's id)."""
        low = text.lower()
        named = {doc for word in set(re.findall(r"\w+", low)) for doc in self._docs_by_word.get(word, ())}
        named.update(doc for pattern, doc in self._name_patterns if pattern.search(low))
        return named

    def _doc(self, text: str) -> str | None:
        named = self._named(text)
        return named.pop() if len(named) == 1 else None


def _plain(text: str) -> str:
    """``text`` with its figures of speech (``_FIGURES``) in plain words."""
    for pattern, plain in _FIGURE_PATTERNS:
        text = pattern.sub(plain, text)
    return text


def _statement_then_question(text: str) -> tuple[str, str]:
    """("One or more statements.", "A question?") for a text made of them (blingfire's sentences, which keep
    "et al." whole); ("", text) for anything else."""
    from blingfire import text_to_sentences

    sentences = text_to_sentences(text).split("\n") if text else []
    if len(sentences) == 1:
        # "My doctor mentioned exosomes, what are they?": a person's statement joined by a comma to a question that
        # refers back to it. A heading joined so ("FasL on exosomes: what role does it play?") is the subject of
        # one question: its words weigh as the question's own, not as a turn before it.
        joined = _JOINED_QUESTION.match(text)
        if (joined and not _QUESTION_OPENER.match(text)
                and {w.lower() for w in words(joined.group(2))} & _ANAPHORA
                and {w.lower() for w in words(joined.group(1))} & _PERSONAL):
            return joined.group(1), joined.group(2)
    if len(sentences) < 2 or not sentences[-1].endswith("?") or any(s.endswith("?") for s in sentences[:-1]):
        return "", text
    return " ".join(sentences[:-1]), sentences[-1]


def english_frequency(word: str) -> float:
    """How often English text uses ``word``: wordfreq's Zipf scale, 0 (never) to about 7 ("the"). Imported on
    first use: the quick CLI commands never need it (a server loads it at start, ``Pipeline.warm_up``)."""
    from wordfreq import zipf_frequency

    return zipf_frequency(word, "en")


def _closest(word: str, words: list[str]) -> str | None:
    """difflib.get_close_matches(word, words, n=1, cutoff=TYPO_SIMILARITY), found faster: rapidfuzz's ratio (2 x
    longest common subsequence / total length) is never below difflib's (2 x matched blocks / total length),
    so the words it keeps hold every match, and difflib's ratio then decides among those few as
    get_close_matches does (the best, the greatest word of a tie). 2.8 ms a question in difflib alone before."""
    from rapidfuzz import fuzz, process

    kept = process.extract(word, words, scorer=fuzz.ratio, score_cutoff=100 * TYPO_SIMILARITY - 1e-6, limit=None)
    scored = [(difflib.SequenceMatcher(None, word, candidate).ratio(), candidate) for candidate, _, _ in kept]
    scored = [pair for pair in scored if pair[0] >= TYPO_SIMILARITY]
    return max(scored)[1] if scored else None


def _may_be_misspelt(word: str) -> bool:
    """Is ``word`` (one the corpus does not use) long and un-English enough to be taken for a misspelling?"""
    low = word.lower()
    if not low.isalpha() or len(low) < TYPO_SHORT_LENGTH:
        return False
    return len(low) >= TYPO_MIN_LENGTH or (not is_name(word) and english_frequency(low) < TYPO_SHORT_ZIPF)


def _greek_spellings(word: str) -> list[str]:
    """``word`` with each combination of its Latin stand-ins for Greek letters replaced (avb6 -> αvβ6, ...)."""
    if not 0 < sum(letter in _LATIN_FOR_GREEK for letter in word) <= _LATIN_FOR_GREEK_MAX:
        return []
    options = [(letter, _LATIN_FOR_GREEK[letter]) if letter in _LATIN_FOR_GREEK else (letter,) for letter in word]
    return ["".join(letters) for letters in itertools.product(*options)][1:]  # the first is the word as typed


def _everyday(word: str) -> bool:
    """An everyday English word (spit, kidney), not a name or a technical term (EGFR, neuroblastoma)."""
    return word.isalpha() and not is_name(word) and english_frequency(word) >= EVERYDAY_ZIPF


def is_name(word: str) -> bool:
    """Written as the name of a molecule, cell, test or product is (NKG2D, miR-21, CAR-T, ExoDx, PRP),
    not as a word is: a capital or a digit after its first letter. A number (2018) is no name."""
    return any((_ENTITY.search(part[1:]) or (len(part) > 1 and part.isupper())) and not part.isdigit()
               for part in re.split(r"[-/]", word))


def _listed(text: str) -> list[str]:
    match = _LISTED.search(text)
    if not match or {w.lower() for w in match.group(1).split()} & _AUXILIARIES:
        return []
    return index_terms(match.group(1).split()[-1])


def _definition(text: str) -> re.Match | None:
    """The match of the subject of a request for a definition of it, if ``text`` is one."""
    return next((match for match in (pattern.match(text) for pattern in _DEFINITIONS) if match), None)


def question_parts(text: str) -> list[str]:
    """The questions a text asks one after the other, joined by "and" ("What are exosomes and why do they matter?"
    -> "What are exosomes", "why do they matter?"); the text alone when it asks one."""
    if not _QUESTION_OPENING.match(text):
        return [text]
    parts = [part.strip() for part in _SECOND_QUESTION.split(text, maxsplit=1) if part.strip()]
    # Each part a question of its own, as asked: "What are exosomes?"
    return [part if part.endswith("?") or not text.rstrip().endswith("?") else part + "?" for part in parts]


def _defined(text: str) -> list[str]:
    match = _definition(text)
    return index_terms(match.group(1)) if match else []


def _defined_before(text: str, context_terms: list[str]) -> list[str]:
    """For "what are they?" after the turn it refers to ("My doctor mentioned exosomes."): that turn's subject, when
    it names one of at most COMPOSED_MAX_TERMS terms."""
    match = _definition(text)
    if not match or not set(w.lower() for w in words(match.group(1))) <= _ANAPHORA:
        return []
    return context_terms if 0 < len(set(context_terms)) <= COMPOSED_MAX_TERMS else []


def _doc_names(documents) -> dict[str, set[str]]:
    """How a question may name each paper: its id and its authors' surnames."""
    names = {}
    for doc in documents:
        found = {doc.id.lower()}
        found.update(a.split()[-1].lower() for a in doc.authors)
        names[doc.id] = found
    return names
