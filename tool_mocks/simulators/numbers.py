"""Simulated number services: numbersapi math facts, number-to-words, and cheque-style amounts.

- ``Numbers%%Get math fact`` computes true properties of the integer (primality, squares,
  Fibonacci membership, perfect numbers, taxicab numbers, divisor counts...) and states one.
- ``Numbers Translator%%Numbers Translator`` spells any digit string in English, short scale,
  up to 66 digits (vigintillions).
- ``NumbersToLetters%%...`` spell a money amount in Spanish or English the way Mexican cheques
  and invoices do: the integer part in capitals, the cents as ``NN/100`` and a currency tag
  (``M.N.`` for pesos, ``USD`` for dollars, ``EUR`` for euros). Spanish drops accents, as the
  real service does with its upper-case ``DOLARES``.
"""

from __future__ import annotations

import math
import re
from typing import Any

from ._base import Reply, SimContext, bad_request, ok, simulator

__all__ = (
    "amount_in_english",
    "amount_in_spanish",
    "cube_pairs",
    "english_words",
    "factorize",
    "is_fibonacci",
    "is_prime",
    "letras_espanol",
    "letras_ingles",
    "math_fact",
    "math_facts",
    "numbers_translator",
    "spanish_words",
)

# --- math facts ------------------------------------------------------------------------------

_BIG = 10**18  # beyond this only cheap digit facts are attempted
_TRIAL_LIMIT = 10**6


def is_prime(n: int) -> bool:
    """Deterministic Miller-Rabin for n < 3.3e24 (bases are the first 13 primes)."""
    if n < 2:
        return False
    small = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41)
    for p in small:
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for a in small:
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def factorize(n: int) -> dict[int, int] | None:
    """Prime factorisation of n >= 2, or None when trial division cannot finish it."""
    factors: dict[int, int] = {}
    d = 2
    while d * d <= n and d <= _TRIAL_LIMIT:
        while n % d == 0:
            factors[d] = factors.get(d, 0) + 1
            n //= d
        d += 1 if d == 2 else 2
    if n > 1:
        if d * d <= n and not is_prime(n):
            return None
        factors[n] = factors.get(n, 0) + 1
    return factors


def _is_square(n: int) -> bool:
    return n >= 0 and math.isqrt(n) ** 2 == n


def _icbrt(n: int) -> int:
    r = round(n ** (1 / 3))
    while r**3 > n:
        r -= 1
    while (r + 1) ** 3 <= n:
        r += 1
    return r


def is_fibonacci(n: int) -> bool:
    return n >= 0 and (_is_square(5 * n * n + 4) or _is_square(5 * n * n - 4))


def cube_pairs(n: int) -> list[tuple[int, int]]:
    """All (a, b) with 1 <= a <= b and a^3 + b^3 = n."""
    pairs = []
    for a in range(1, _icbrt(n // 2) + 1):
        b = _icbrt(n - a**3)
        if b >= a and a**3 + b**3 == n:
            pairs.append((a, b))
    return pairs


def _superscript(factors: dict[int, int]) -> str:
    return " × ".join(f"{p}^{e}" if e > 1 else str(p) for p, e in sorted(factors.items()))


def math_facts(n: int) -> tuple[list[str], list[str]]:
    """(rare facts in priority order, common facts): true noun phrases about ``n``."""
    rare: list[str] = []
    common: list[str] = []
    a = abs(n)
    digits = str(a)
    if 0 < n < _BIG:
        factors = factorize(n) if n > 1 else {}
        if factors is not None and n > 1:
            sigma = math.prod((p ** (e + 1) - 1) // (p - 1) for p, e in factors.items())
            if sigma == 2 * n:
                rare.append("a perfect number, equal to the sum of its proper divisors")
        if n < 10**12:
            pairs = cube_pairs(n)
            if len(pairs) >= 2:
                (x1, y1), (x2, y2) = pairs[:2]
                lead = "the smallest number" if n == 1729 else "a number"
                rare.append(
                    f"{lead} expressible as the sum of two positive cubes in two different ways "
                    f"({x1}³ + {y1}³ = {x2}³ + {y2}³)"
                )
        k, f = 1, 1
        while f < n:
            k += 1
            f *= k
        if f == n and n > 2:
            rare.append(f"the factorial of {k} ({k}!)")
        if n > 1 and n & (n - 1) == 0:
            rare.append(f"a power of two (2^{n.bit_length() - 1})")
        if is_fibonacci(n) and n > 3:
            rare.append("a Fibonacci number")
        c = _icbrt(n)
        if c**3 == n and n > 1:
            rare.append(f"a perfect cube ({c}³)")
        if _is_square(n) and n > 1:
            rare.append(f"a perfect square ({math.isqrt(n)}²)")
        if is_prime(n):
            rare.append("a prime number")
        t = (math.isqrt(8 * n + 1) - 1) // 2
        if t * (t + 1) // 2 == n and n > 3:
            rare.append(f"the {t}th triangular number, the sum of the integers from 1 to {t}")
        if factors is not None and n > 1:
            count = math.prod(e + 1 for e in factors.values())
            if not is_prime(n):
                common.append(f"a composite number with {count} divisors")
                common.append(f"the product of the primes {_superscript(factors)}")
            if len(factors) == 2 and all(e == 1 for e in factors.values()):
                common.append("a semiprime, the product of two distinct primes")
        if n % sum(map(int, digits)) == 0 and n > 9:
            common.append(f"a Harshad number, divisible by the sum of its digits ({sum(map(int, digits))})")
    if len(digits) > 2 and len(set(digits)) == 1:
        rare.append(f"a repdigit, written with the digit {digits[0]} only")
    elif len(digits) > 2 and digits == digits[::-1]:
        rare.append("a palindrome, reading the same forwards and backwards")
    common.append(f"an {'even' if n % 2 == 0 else 'odd'} number")
    common.append(f"a number whose digits add up to {sum(map(int, digits))}")
    return rare, common


def _sentence(n: int, phrase: str) -> str:
    return f"{n} is {phrase}."


@simulator("Numbers%%Get math fact")
def math_fact(args: dict[str, Any], ctx: SimContext) -> Reply:
    raw = str(args["number"]).strip()
    if not re.fullmatch(r"-?\d+", raw) or len(raw) > 40:
        return bad_request(
            f"parameter 'number' must be an integer of at most 40 digits, such as 1729; got {raw!r}",
            parameter="number",
        )
    n = int(raw)
    rare, common = math_facts(n)
    # the rarest true property wins; otherwise one of the everyday ones, fixed per number
    if rare:
        phrase = rare[0]
    else:  # parity and digit sum (the last two) only when nothing better is true
        pool = common[:-2] or common
        phrase = ctx.entity_rng("math fact", n).choice(pool)
    if args.get("fragment", False):
        text = phrase
    else:
        text = _sentence(n, phrase)
    if not args.get("json", True):
        return ok(text)
    return ok({"text": text, "number": n, "found": True, "type": "math"})


# --- English words, short scale --------------------------------------------------------------

_ONES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
         "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
         "eighteen", "nineteen")
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_SCALES = ("", "thousand", "million", "billion", "trillion", "quadrillion", "quintillion",
           "sextillion", "septillion", "octillion", "nonillion", "decillion", "undecillion",
           "duodecillion", "tredecillion", "quattuordecillion", "quindecillion",
           "sexdecillion", "septendecillion", "octodecillion", "novemdecillion", "vigintillion")
MAX_DIGITS = 3 * len(_SCALES)


def _english_below_1000(n: int) -> str:
    words = []
    if n >= 100:
        words.append(f"{_ONES[n // 100]} hundred")
        n %= 100
    if n >= 20:
        words.append(_TENS[n // 10] + (f"-{_ONES[n % 10]}" if n % 10 else ""))
    elif n:
        words.append(_ONES[n])
    return " ".join(words)


def english_words(n: int) -> str:
    """``n`` >= 0 in lower-case English words, short scale, no 'and'."""
    if n == 0:
        return "zero"
    groups = []
    scale = 0
    while n:
        n, chunk = divmod(n, 1000)
        if chunk:
            groups.append(f"{_english_below_1000(chunk)} {_SCALES[scale]}".strip())
        scale += 1
    return " ".join(reversed(groups))


@simulator("Numbers Translator%%Numbers Translator")
def numbers_translator(args: dict[str, Any], ctx: SimContext) -> Reply:
    raw = str(args.get("text", "23879908709817834")).strip()
    if not raw:
        return bad_request("parameter 'text' must not be empty; give digits such as 12345", parameter="text")
    if not raw.isascii() or not raw.isdigit():
        return bad_request(
            f"parameter 'text' must contain digits only (no signs, separators or decimals); got {raw!r}",
            parameter="text",
        )
    value = int(raw)
    if len(str(value)) > MAX_DIGITS:
        return bad_request(
            f"parameter 'text' is too long: at most {MAX_DIGITS} significant digits "
            f"(vigintillions) can be spelled; got {len(str(value))}",
            parameter="text",
        )
    words = english_words(value)
    return ok({"number": raw, "text": words[0].upper() + words[1:]})


# --- cheque-style amounts (NumbersToLetters) -------------------------------------------------

_CURRENCIES = ("PESOS", "DOLARES", "EUROS")
# moneda -> (Spanish singular, Spanish plural, English singular, English plural, tag)
_CURRENCY_WORDS = {
    "PESOS": ("PESO", "PESOS", "PESO", "PESOS", "M.N."),
    "DOLARES": ("DOLAR", "DOLARES", "DOLLAR", "DOLLARS", "USD"),
    "EUROS": ("EURO", "EUROS", "EURO", "EUROS", "EUR"),
}
MAX_AMOUNT = 10**12  # exclusive: up to "novecientos noventa y nueve mil ... millones"

_ES_UNITS = ("", "UN", "DOS", "TRES", "CUATRO", "CINCO", "SEIS", "SIETE", "OCHO", "NUEVE",
             "DIEZ", "ONCE", "DOCE", "TRECE", "CATORCE", "QUINCE", "DIECISEIS", "DIECISIETE",
             "DIECIOCHO", "DIECINUEVE", "VEINTE", "VEINTIUN", "VEINTIDOS", "VEINTITRES",
             "VEINTICUATRO", "VEINTICINCO", "VEINTISEIS", "VEINTISIETE", "VEINTIOCHO",
             "VEINTINUEVE")
_ES_TENS = ("", "", "", "TREINTA", "CUARENTA", "CINCUENTA", "SESENTA", "SETENTA", "OCHENTA",
            "NOVENTA")
_ES_HUNDREDS = ("", "CIENTO", "DOSCIENTOS", "TRESCIENTOS", "CUATROCIENTOS", "QUINIENTOS",
                "SEISCIENTOS", "SETECIENTOS", "OCHOCIENTOS", "NOVECIENTOS")


def _spanish_below_1000(n: int) -> str:
    """1..999 with the apocopated 'UN' (the form used before a noun: 'VEINTIUN PESOS')."""
    if n == 100:
        return "CIEN"
    words = []
    if n >= 100:
        words.append(_ES_HUNDREDS[n // 100])
        n %= 100
    if n >= 30:
        words.append(_ES_TENS[n // 10] + (f" Y {_ES_UNITS[n % 10]}" if n % 10 else ""))
    elif n:
        words.append(_ES_UNITS[n])
    return " ".join(words)


def spanish_words(n: int) -> str:
    """0 <= n < 10^12 in upper-case Spanish without accents, long scale ('MIL MILLONES')."""
    if n == 0:
        return "CERO"
    millions, rest = divmod(n, 10**6)
    parts = []
    if millions:
        if millions == 1:
            parts.append("UN MILLON")
        else:
            parts.append(f"{_spanish_thousands(millions)} MILLONES")
    if rest:
        parts.append(_spanish_thousands(rest))
    return " ".join(parts)


def _spanish_thousands(n: int) -> str:
    """1..999999."""
    thousands, units = divmod(n, 1000)
    parts = []
    if thousands == 1:
        parts.append("MIL")
    elif thousands:
        parts.append(f"{_spanish_below_1000(thousands)} MIL")
    if units:
        parts.append(_spanish_below_1000(units))
    return " ".join(parts)


def _parse_amount(raw: str) -> tuple[int, int] | str:
    """(whole units, cents) or a complaint."""
    text = raw.strip()
    if not re.fullmatch(r"\d+(\.\d{1,2})?", text):
        return (
            f"parameter 'monto' must be a non-negative amount with at most two decimals, "
            f"digits only (e.g. 1250.50); got {raw!r}"
        )
    whole, _, frac = text.partition(".")
    units = int(whole)
    if units >= MAX_AMOUNT:
        return f"parameter 'monto' must be below {MAX_AMOUNT:,}; got {raw!r}"
    return units, int(frac.ljust(2, "0")) if frac else 0


def _check_money(args: dict[str, Any]) -> tuple[str, int, int] | Reply:
    moneda = str(args["moneda"]).strip()
    if moneda not in _CURRENCIES:
        hint = " (write it in capitals)" if moneda.upper() in _CURRENCIES else ""
        return bad_request(
            f"parameter 'moneda' must be one of {', '.join(_CURRENCIES)}{hint}; got {moneda!r}",
            parameter="moneda",
            accepted_values=list(_CURRENCIES),
        )
    amount = _parse_amount(str(args["monto"]))
    if isinstance(amount, str):
        return bad_request(amount, parameter="monto")
    return moneda, amount[0], amount[1]


def amount_in_spanish(moneda: str, units: int, cents: int) -> str:
    singular, plural, _, _, tag = _CURRENCY_WORDS[moneda]
    noun = singular if units == 1 else plural
    # "UN MILLON DE PESOS": whole millions take "DE" before the currency
    joiner = " DE " if units >= 10**6 and units % 10**6 == 0 else " "
    return f"{spanish_words(units)}{joiner}{noun} {cents:02d}/100 {tag}"


def amount_in_english(moneda: str, units: int, cents: int) -> str:
    _, _, singular, plural, tag = _CURRENCY_WORDS[moneda]
    noun = singular if units == 1 else plural
    return f"{english_words(units).upper()} {noun} {cents:02d}/100 {tag}"


@simulator("NumbersToLetters%%Convertir cantidad a letra Moneda MXN Español")
def letras_espanol(args: dict[str, Any], ctx: SimContext) -> Reply:
    checked = _check_money(args)
    if isinstance(checked, Reply):
        return checked
    moneda, units, cents = checked
    return ok({"moneda": moneda, "monto": str(args["monto"]).strip(),
               "letras": amount_in_spanish(moneda, units, cents)})


@simulator("NumbersToLetters%%Convertir cantidad a letra Moneda MXN Ingles")
def letras_ingles(args: dict[str, Any], ctx: SimContext) -> Reply:
    checked = _check_money(args)
    if isinstance(checked, Reply):
        return checked
    moneda, units, cents = checked
    return ok({"moneda": moneda, "monto": str(args["monto"]).strip(),
               "letras": amount_in_english(moneda, units, cents)})
