"""Simulated knowledge tools of the study: Wikipedia, arXiv, web search and Wolfram|Alpha.

All answers come from the embedded data in ``_knowledge_data`` (and the gazetteer for city
facts). ``search`` and ``disambiguation`` behave like the BMTools Wikipedia tool (exact title
or a list of similar titles to try), ``get_arxiv_article_information`` like the arXiv wrapper
("Published / Title / Authors / Summary" blocks), ``search_general`` like a web search that
returns snippets, and ``getWolframAlphaResults`` computes arithmetic exactly with a small
parser (never ``eval``) and answers factual questions from the fact base.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from fractions import Fraction
from typing import Any

from ._base import Reply, SimContext, bad_request, ok, simulator
from ._geo_data import COUNTRIES
from ._knowledge_data import (
    CHEMICALS,
    CONSTANTS,
    COUNTRY_FACTS,
    DISAMBIGUATION,
    ELEMENTS,
    ENTITIES,
    PAPERS,
    PEOPLE,
    WEB_TOPICS,
    Entity,
)
from .geo import country_name, fold, places_in_text

__all__ = (
    "arxiv_search",
    "disambiguation",
    "find_entity",
    "search_general",
    "similar_titles",
    "tokens",
    "wikipedia_search",
    "wolfram_alpha",
)

_STOPWORDS = frozenset(
    "a an and are as at be by can com for from how i in is it its list of on or me my the to "
    "what which who why with about tell give show their there this that these those do does "
    "some most recent research paper papers article articles use using used application "
    "applications related field main major top types type history causes cause".split()
)


def _stem(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def tokens(text: str) -> set[str]:
    """Content words of ``text``, folded and crudely singularised."""
    return {_stem(w) for w in fold(text).split() if w not in _STOPWORDS}


def _blank(args: dict[str, Any], name: str) -> Reply | None:
    value = args.get(name)
    if not isinstance(value, str) or not value.strip():
        return bad_request(f"parameter {name!r} must be a non-empty string", parameter=name)
    return None


# --- Wikipedia -------------------------------------------------------------------------------

_ENTITY_BY_KEY: dict[str, Entity] = {}
for _e in ENTITIES:
    for _name in (_e.title, *_e.aliases):
        _ENTITY_BY_KEY.setdefault(fold(_name), _e)

_ENTITY_TOKENS = {
    e.title: (tokens(" ".join((e.title, *e.aliases))), tokens(e.summary)) for e in ENTITIES
}


def similar_titles(query: str, limit: int = 5, extra: tuple[str, ...] = ()) -> list[str]:
    """Titles that share words with ``query``: title words weigh most, summary words less."""
    q = tokens(query)
    scored: list[tuple[float, str]] = []
    for title, (head, body) in _ENTITY_TOKENS.items():
        score = 3.0 * len(q & head) + 0.5 * len(q & body)
        if q & head or len(q & body) >= 2:
            scored.append((score, title))
    for title in extra:
        if overlap := len(q & tokens(title)):
            scored.append((3.0 * overlap, title))
    scored.sort(key=lambda st: (-st[0], st[1]))
    out: list[str] = []
    for _, title in scored:
        if title not in out:
            out.append(title)
    return out[:limit]


def find_entity(name: str) -> Entity | None:
    return _ENTITY_BY_KEY.get(fold(name))


@simulator("search")
def wikipedia_search(args: dict[str, Any], ctx: SimContext) -> Reply:
    if err := _blank(args, "entity"):
        return err
    entity = args["entity"].strip()
    if found := find_entity(entity):
        return ok(found.summary)
    return ok(f"Could not find {entity}. Similar: {similar_titles(entity)!r}")


_DISAMBIG_BY_KEY = {fold(k): k for k in DISAMBIGUATION}
_ALL_DISAMBIG_TITLES = tuple(t for pages in DISAMBIGUATION.values() for t, _ in pages)


@simulator("disambiguation")
def disambiguation(args: dict[str, Any], ctx: SimContext) -> Reply:
    if err := _blank(args, "entity"):
        return err
    entity = args["entity"].strip()
    key = fold(entity)
    name = _DISAMBIG_BY_KEY.get(key) or _DISAMBIG_BY_KEY.get(_stem(key))
    if name is not None:
        lines = [f"{name} may refer to:"]
        lines += [f"- {title}: {desc}" for title, desc in DISAMBIGUATION[name]]
        return ok("\n".join(lines))
    similar = similar_titles(entity, limit=6, extra=_ALL_DISAMBIG_TITLES)
    if found := find_entity(entity):
        return ok(
            f"{entity} is not ambiguous: it leads to the single page {found.title!r}. "
            f"Other pages with similar titles: {similar!r}"
        )
    return ok(f"No disambiguation page found for {entity}. Pages with similar titles: {similar!r}")


# --- arXiv -----------------------------------------------------------------------------------

_GENERIC_TERMS = frozenset("learning model models network networks method study new deep".split())


def _paper_score(query_folded: str, query_tokens: set[str], keywords: tuple[str, ...], title: str) -> int:
    score = 0
    padded = f" {query_folded} "
    for kw in keywords:
        kf = fold(kw)
        if f" {kf} " in padded:
            score += 3 if " " in kf else 2
    title_words = tokens(title) - _GENERIC_TERMS
    score += len((query_tokens - _GENERIC_TERMS) & title_words)
    return score


@simulator("get_arxiv_article_information")
def arxiv_search(args: dict[str, Any], ctx: SimContext) -> Reply:
    if err := _blank(args, "query"):
        return err
    query = args["query"]
    qf = " ".join(_stem(w) for w in fold(query).split())
    qt = tokens(query)
    ranked = []
    for paper in PAPERS:
        keywords = tuple(" ".join(_stem(w) for w in fold(k).split()) for k in paper.keywords)
        score = _paper_score(qf, qt, keywords, paper.title)
        if score >= 2:
            ranked.append((score, paper.published, paper))
    if not ranked:
        return ok("No good Arxiv Result was found")
    ranked.sort(key=lambda r: r[1], reverse=True)  # newest first among equal scores
    ranked.sort(key=lambda r: -r[0])
    blocks = [
        f"Published: {p.published}\nTitle: {p.title}\nAuthors: {p.authors}\nSummary: {p.summary}"
        for _, _, p in ranked[:3]
    ]
    return ok("\n\n".join(blocks))


# --- web search ------------------------------------------------------------------------------

_GENERIC_RESULTS = (
    ("{Topic}: a complete guide", "We walk through {topic} step by step, with expert advice, "
     "common mistakes to avoid and answers to the questions readers ask most."),
    ("{n} things to know about {topic}", "From the basics to the latest research, here is what "
     "specialists say about {topic} and how to put it into practice."),
    ("{Topic} - what the evidence says", "A review of studies on {topic}: which claims hold up, "
     "which do not, and where more research is needed."),
    ("Ask the experts: {topic}", "Three specialists answer readers' questions about {topic} and "
     "share the tips they give their own clients."),
    ("{Topic} (discussion thread)", "Members share their own experiences with {topic}, what "
     "worked for them and what they would do differently."),
    ("Beginner's checklist: {topic}", "A printable checklist covering {topic}, with time "
     "estimates and links to further reading."),
)
_SITES = ("wikihow.com", "healthline.com", "forbes.com", "nytimes.com", "verywellhealth.com",
          "reddit.com", "medium.com", "bbc.com", "webmd.com", "theguardian.com", "quora.com")


@simulator("search_general")
def search_general(args: dict[str, Any], ctx: SimContext) -> Reply:
    if err := _blank(args, "query"):
        return err
    query = args["query"].strip()
    words = set(fold(query).split()) | {_stem(w) for w in fold(query).split()}
    padded = f" {fold(query)} "
    results: list[str] = []
    # a knowledge panel when the query names an entity we know
    for key, ent in sorted(_ENTITY_BY_KEY.items(), key=lambda kv: -len(kv[0])):
        if len(key) > 3 and f" {key} " in padded:
            lead = " ".join(re.split(r"(?<=[.!?])\s+", ent.summary)[:2])
            results.append(f"{ent.title} - Wikipedia: {lead}")
            break
    for keys, site, title, snippet in WEB_TOPICS:
        if all(k in words for k in keys):
            results.append(f"{title} - {site}: {snippet}")
    rng = ctx.entity_rng("search_general", fold(query))  # the same query reads the same
    topic = re.sub(r"\s+", " ", query.strip(" ?.!"))
    templates = list(_GENERIC_RESULTS)
    rng.shuffle(templates)
    while len(results) < 5:
        title, snippet = templates.pop()
        day = ctx.today - dt.timedelta(days=rng.randint(20, 1200))
        results.append(
            f"{title.format(Topic=topic[:1].upper() + topic[1:], topic=topic, n=rng.randint(5, 12))}"
            f" - {rng.choice(_SITES)}: {day.strftime('%b %d, %Y').replace(' 0', ' ')} — "
            f"{snippet.format(topic=topic)}"
        )
    return ok("\n".join(results))


# --- Wolfram|Alpha ---------------------------------------------------------------------------


class _ExprError(Exception):
    """The text is not an arithmetic expression this parser understands."""


class _MathError(Exception):
    """The expression is well formed but has no real value (message says why)."""


class _Infinity(Exception):
    """Division by zero: Wolfram|Alpha answers 'complex infinity'."""


Number = Fraction | float

_WORD_OPS = (
    (r"\bsquare root of\b", " sqrt "),
    (r"\bcube root of\b", " cbrt "),
    (r"\bto the power of\b|\braised to( the power of)?\b|\*\*", " ^ "),
    (r"\bsquared\b", " ^ 2 "),
    (r"\bcubed\b", " ^ 3 "),
    (r"\bmultiplied by\b|\btimes\b|×", " * "),
    (r"\bdivided by\b|\bover\b|÷", " / "),
    (r"\bplus\b", " + "),
    (r"\bminus\b", " - "),
    (r"(?<=\d)\s*x\s*(?=[\d(])", " * "),
    (r"(?<=\d),(?=\d{3}\b)", ""),
)
_LEAD = re.compile(r"^\s*(what is|what's|whats|calculate|compute|evaluate|solve|find|the value of|value of|the)\b\s*", re.I)
_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d+)?|\.\d+)|(sqrt|cbrt|pi)|([-+*/^()]))")


def _tokenize(text: str) -> list[str]:
    out: list[str] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise _ExprError(text[pos:])
        out.append(m.group(1) or m.group(2) or m.group(3))
        pos = m.end()
    if not out:
        raise _ExprError(text)
    return out


class _Parser:
    """Recursive descent over + - * / ^, parentheses, unary signs, sqrt, cbrt and pi."""

    def __init__(self, toks: list[str]):
        self.toks = toks
        self.i = 0

    def peek(self) -> str | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> str:
        tok = self.peek()
        if tok is None:
            raise _ExprError("unexpected end")
        self.i += 1
        return tok

    def parse(self) -> Number:
        value = self.expr()
        if self.peek() is not None:
            raise _ExprError(f"unexpected {self.peek()!r}")
        return value

    def expr(self) -> Number:
        value = self.term()
        while self.peek() in ("+", "-"):
            op = self.take()
            rhs = self.term()
            value = value + rhs if op == "+" else value - rhs
        return value

    def term(self) -> Number:
        value = self.unary()
        while self.peek() in ("*", "/"):
            op = self.take()
            rhs = self.unary()
            if op == "*":
                value = value * rhs
            elif rhs == 0:
                raise _Infinity
            else:
                value = value / rhs
        return value

    def unary(self) -> Number:
        if self.peek() in ("+", "-"):
            op = self.take()
            value = self.unary()
            return -value if op == "-" else value
        return self.power()

    def power(self) -> Number:
        base = self.primary()
        if self.peek() == "^":
            self.take()
            return _pow(base, self.unary())  # right-associative: 2^3^2 = 2^9
        return base

    def primary(self) -> Number:
        tok = self.take()
        if tok == "(":
            value = self.expr()
            if self.take() != ")":
                raise _ExprError("missing ')'")
            return value
        if tok == "sqrt":
            return _root(self.unary_or_primary(), 2)
        if tok == "cbrt":
            return _root(self.unary_or_primary(), 3)
        if tok == "pi":
            return math.pi
        if tok[0].isdigit() or tok[0] == ".":
            return Fraction(tok)
        raise _ExprError(f"unexpected {tok!r}")

    def unary_or_primary(self) -> Number:
        if self.peek() == "-":
            self.take()
            return -self.primary()
        return self.primary()


def _iroot(n: int, k: int) -> int:
    """floor(n ** (1/k)) for n >= 0, exact for integers of any size (Newton's method)."""
    if n < 2:
        return n
    x = 1 << ((n.bit_length() + k - 1) // k)
    while True:
        y = ((k - 1) * x + n // x ** (k - 1)) // k
        if y >= x:
            return x
        x = y


def _root(x: Number, k: int) -> Number:
    if x < 0 and k == 2:
        raise _MathError(f"the square root of the negative number {x} is not a real number")
    sign = -1 if x < 0 else 1
    if isinstance(x, Fraction):
        num, den = abs(x.numerator), x.denominator
        a, b = _iroot(num, k), _iroot(den, k)
        if a**k == num and b**k == den:  # a perfect power stays exact
            return sign * Fraction(a, b)
    return sign * abs(float(x)) ** (1 / k)


def _pow(base: Number, exp: Number) -> Number:
    if isinstance(exp, Fraction) and exp.denominator == 1 and isinstance(base, Fraction):
        e = exp.numerator
        digits = abs(e) * math.log10(max(abs(base.numerator), abs(base.denominator), 2))
        if digits > 2000:
            raise _MathError("the result has more than 2000 digits; ask for a smaller power")
        if base == 0 and e < 0:
            raise _Infinity
        return base**e
    b, x = float(base), float(exp)
    if b < 0:
        raise _MathError("a negative number raised to a fractional power is not a real number")
    try:
        return b**x
    except OverflowError:
        raise _MathError("the result is too large to represent") from None


def _format_number(value: Number) -> tuple[str, str | None]:
    """(main result, decimal approximation or None)."""
    if isinstance(value, Fraction):
        if value.denominator == 1:
            return str(value.numerator), None
        return f"{value.numerator}/{value.denominator}", f"{float(value):.12g}"
    if not math.isfinite(value):
        raise _MathError("the result is too large to represent")
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value)), None
    return f"{value:.12g}", None


def _arithmetic(text: str) -> tuple[str, list[tuple[str, str]]] | None:
    """(interpretation, pods) when ``text`` is arithmetic; None otherwise."""
    expr = text.lower().strip().rstrip("?=. ")
    expr = _LEAD.sub("", expr)
    for pattern, repl in _WORD_OPS:
        expr = re.sub(pattern, repl, expr)
    try:
        toks = _tokenize(expr)
    except _ExprError:
        return None
    if not any(t[0].isdigit() or t[0] == "." or t == "pi" for t in toks):
        return None
    interpretation = " ".join(toks).replace("( ", "(").replace(" )", ")")
    interpretation = re.sub(r"\b(sqrt|cbrt) (?=\()", r"\1", interpretation)
    interpretation = re.sub(r"\b(sqrt|cbrt) ([\d.]+|pi)", r"\1(\2)", interpretation)
    try:
        value = _Parser(toks).parse()
    except _ExprError:
        return None
    except _Infinity:
        return interpretation, [("Result", "complex infinity")]
    # _MathError propagates: the input was understood but has no real answer
    main, decimal = _format_number(value)
    pods = [("Result", main)]
    if decimal is not None:
        pods.append(("Decimal approximation", decimal))
    return interpretation, pods


_COUNTRY_ALIASES: dict[str, str] = {}
for _code, _names in COUNTRIES.items():
    if _names[0] in COUNTRY_FACTS:
        for _n in _names:
            _COUNTRY_ALIASES[fold(_n)] = _names[0]
for _c in COUNTRY_FACTS:
    _COUNTRY_ALIASES[fold(_c)] = _c

_PEOPLE_ALIASES: dict[str, str] = {}
for _person in PEOPLE:
    _PEOPLE_ALIASES[fold(_person)] = _person
    _PEOPLE_ALIASES.setdefault(fold(_person.split()[-1]), _person)


def _longest_match(padded: str, table: dict[str, str]) -> tuple[str, str] | None:
    for key in sorted(table, key=len, reverse=True):
        if f" {key} " in padded:
            return key, table[key]
    return None


def _temperature(celsius: float, padded: str) -> str:
    if " fahrenheit " in padded or " f " in padded:
        return f"{celsius * 9 / 5 + 32:.4g} °F"
    if " kelvin " in padded:
        return f"{celsius + 273.15:.5g} K"
    return f"{celsius:g} °C"


def _facts(text: str) -> tuple[str, list[tuple[str, str]]] | None:
    padded = f" {fold(text)} "
    has = lambda *words: any(f" {w} " in padded for w in words)  # noqa: E731

    for key, (value, what) in CONSTANTS.items():
        if f" {fold(key)} " in padded or (key == "avogadro" and " avogadro" in padded):
            return what, [("Result", value)]

    if person_hit := _longest_match(padded, _PEOPLE_ALIASES):
        person = person_hit[1]
        born, birthplace, died, deathplace = PEOPLE[person]
        if has("born", "birth", "birthday", "birth date", "date of birth"):
            return f"{person} | date of birth", [("Result", born), ("Place of birth", birthplace)]
        if has("died", "death", "death date", "date of death"):
            return f"{person} | date of death", [("Result", died), ("Place of death", deathplace)]
        return person, [("Born", f"{born} in {birthplace}"), ("Died", f"{died} in {deathplace}")]

    chem_table = {fold(k): k for k in (*CHEMICALS, *ELEMENTS)}
    if chem_hit := _longest_match(padded, chem_table):
        name = chem_hit[1]
        if name in ELEMENTS:
            symbol, number, weight, boil, melt = ELEMENTS[name]
            if has("atomic number"):
                return f"{name} | atomic number", [("Result", str(number))]
            if has("symbol", "formula"):
                return f"{name} | element symbol", [("Result", symbol)]
            if has("mass", "weight"):
                return f"{name} | atomic mass", [("Result", f"{weight} u")]
            if has("boiling"):
                return f"{name} | boiling point", [("Result", _temperature(boil, padded))]
            if has("melting"):
                return f"{name} | melting point", [("Result", _temperature(melt, padded))]
            return name, [("Element", f"{name} ({symbol}), atomic number {number}, "
                                      f"atomic weight {weight} u")]
        formula, mass, boil_c, melt_c = CHEMICALS[name]
        if has("boiling"):
            result = _temperature(boil_c, padded) if boil_c is not None else (
                "not applicable: it decomposes or sublimes before boiling")
            return f"{name} | boiling point", [("Result", result)]
        if has("melting"):
            result = _temperature(melt_c, padded) if melt_c is not None else "not available"
            return f"{name} | melting point", [("Result", result)]
        if has("mass", "weight"):
            return f"{name} | molar mass", [("Result", f"{mass} g/mol")]
        return f"{name} | chemical formula", [("Result", formula), ("Molar mass", f"{mass} g/mol")]

    country_hit = _longest_match(padded, _COUNTRY_ALIASES)
    cities = places_in_text(text)
    city = cities[0] if cities else None
    if city and (country_hit is None or len(fold(city.name)) > len(country_hit[0])):
        where = f"{city.name}, {country_name(city.country)}"
        if has("coordinates", "latitude", "longitude", "where"):
            return f"{where} | coordinates", [("Result", f"{city.lat}° lat, {city.lon}° lon")]
        if has("time zone", "timezone"):
            return f"{where} | time zone", [("Result", city.timezone)]
        return f"{where} | population", [("Result", f"{city.population:,} people (city proper)")]
    if country_hit:
        country = country_hit[1]
        capital, population, year, area, currency = COUNTRY_FACTS[country]
        if has("capital"):
            return f"{country} | capital city", [("Result", capital)]
        if has("population", "people", "inhabitants"):
            return f"{country} | population", [("Result", f"{population:,} people ({year} estimate)")]
        if has("area", "size"):
            return f"{country} | area", [("Result", f"{area:,} km²")]
        if has("currency", "money"):
            return f"{country} | currency", [("Result", currency)]
        return country, [("Capital", capital), ("Population", f"{population:,} ({year} estimate)"),
                         ("Area", f"{area:,} km²"), ("Currency", currency)]
    return None


@simulator("getWolframAlphaResults")
def wolfram_alpha(args: dict[str, Any], ctx: SimContext) -> Reply:
    if err := _blank(args, "input"):
        return err
    text = args["input"].strip()
    try:
        answer = _arithmetic(text) or _facts(text)
    except _MathError as exc:
        return bad_request(f"Wolfram|Alpha cannot compute {text!r}: {exc}", input=text)
    except OverflowError:
        return bad_request(f"Wolfram|Alpha cannot compute {text!r}: the numbers are too large",
                           input=text)
    if answer is None:
        return bad_request(
            f"Wolfram|Alpha did not understand your input {text!r}",
            input=text,
            queryresult={"success": False, "error": False, "numpods": 0},
            tips=["Check your spelling, and use English",
                  "Try a short question such as 'population of France' or '2^10 + 5'"],
        )
    interpretation, pods = answer
    body_pods = [{"title": "Input interpretation", "plaintext": interpretation}]
    body_pods += [{"title": title, "plaintext": value} for title, value in pods]
    return ok({"queryresult": {"success": True, "inputstring": text, "numpods": len(body_pods),
                               "pods": body_pods}})
