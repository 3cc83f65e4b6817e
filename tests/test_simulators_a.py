"""Simulators of group A: knowledge, geo, dates, numbers and security APIs."""

from __future__ import annotations

import datetime as dt
import json
import string
from pathlib import Path
from typing import Any

import pytest
from simcall import body_of, call

import tool_mocks.simulators  # noqa: F401  (registers every simulator)
from ste_async.catalog import builtin_catalog
from tool_mocks.simulators._base import REGISTRY
from tool_mocks.simulators.numbers import english_words, math_facts, spanish_words

ROOT = Path(__file__).resolve().parents[1]
PLAYBOOK: dict[str, list[dict[str, Any]]] = json.loads(
    (ROOT / "tool_mocks" / "data" / "playbook_a.json").read_text(encoding="utf-8")
)
SPECS = {n: builtin_catalog()[n] for n in PLAYBOOK if "#" not in n}
REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "ste"
TODAY = dt.date(2024, 5, 17)

ES = "NumbersToLetters%%Convertir cantidad a letra Moneda MXN Español"
EN = "NumbersToLetters%%Convertir cantidad a letra Moneda MXN Ingles"
TZ = "Stadia Maps Time Zone API%%TZ Lookup by Location"
PLACES = "Places%%Geographic coordinates by placename"
MATH = "Numbers%%Get math fact"


# --- catalog and playbook shape --------------------------------------------------------------


def test_fragment_has_the_19_apis_with_simulators() -> None:
    assert len(SPECS) == 19
    assert set(SPECS) <= set(REGISTRY)
    if (REFERENCE / "API_list.json").exists():
        assert set(SPECS) <= set(json.loads((REFERENCE / "API_list.json").read_text()))


def test_playbook_covers_every_api() -> None:
    for name in SPECS:
        assert 6 <= len(PLAYBOOK[name]) <= 8, name
        assert 2 <= len(PLAYBOOK[f"{name}#invalid"]) <= 3, name
    assert set(PLAYBOOK) == set(SPECS) | {f"{n}#invalid" for n in SPECS}


GOOD = [(n, e["args"]) for n in SPECS for e in PLAYBOOK[n]]
BAD = [(n, e["args"], e["status"]) for n in SPECS for e in PLAYBOOK[f"{n}#invalid"]]


@pytest.mark.parametrize(("name", "args"), GOOD)
def test_playbook_calls_succeed_and_replay(name: str, args: dict[str, Any]) -> None:
    first = call(name, args)
    assert first.status == 200, first
    assert first == call(name, args)


@pytest.mark.parametrize(("name", "args", "status"), BAD)
def test_playbook_invalid_calls_are_rejected_with_a_named_problem(
    name: str, args: dict[str, Any], status: int
) -> None:
    reply = call(name, args)
    assert reply.status == status, reply
    message = reply.body["error"]
    spec = SPECS[name]
    named = [p.name for p in spec.params] + list(args) + [str(v) for v in args.values()]
    assert any(str(word) in message for word in named), message


# --- dates -----------------------------------------------------------------------------------


def test_today_and_date_arithmetic() -> None:
    assert body_of("get_today_date", {}) == "Today is 2024-05-17."
    assert body_of("get_today_date", {}, today=dt.date(2030, 1, 2)) == "Today is 2030-01-02."
    cases = {
        ("2022-10-14", 90): "2023-01-12",
        ("2024-02-29", -365): "2023-03-01",
        ("2024-02-28", 2): "2024-03-01",
        ("2030-08-15", 5000): "2044-04-23",
        ("2022-01-01", -20): "2021-12-12",
    }
    for (date, days), expected in cases.items():
        assert body_of("add_date", {"date": date, "days": days}) == expected
    overflow = call("add_date", {"date": "9999-12-30", "days": 5})
    assert overflow.status == 400 and "days" in overflow.body["error"]


# --- numbers ---------------------------------------------------------------------------------


def test_math_facts_are_true_and_chosen_by_rarity() -> None:
    text = body_of(MATH, {"number": "1729"})
    assert text == {
        "text": "1729 is the smallest number expressible as the sum of two positive cubes in two "
        "different ways (1³ + 12³ = 9³ + 10³).",
        "number": 1729,
        "found": True,
        "type": "math",
    }
    assert body_of(MATH, {"number": "28"})["text"] == (
        "28 is a perfect number, equal to the sum of its proper divisors."
    )
    assert body_of(MATH, {"number": "1024"})["text"] == "1024 is a power of two (2^10)."
    assert body_of(MATH, {"number": "1000"})["text"] == "1000 is a perfect cube (10³)."
    assert body_of(MATH, {"number": "97"})["text"] == "97 is a prime number."
    assert body_of(MATH, {"number": "720"})["text"] == "720 is the factorial of 6 (6!)."
    assert body_of(MATH, {"number": "55"})["text"] == "55 is a Fibonacci number."
    assert body_of(MATH, {"number": "1111"})["text"] == "1111 is a repdigit, written with the digit 1 only."
    fragment = body_of(MATH, {"number": "1729", "fragment": "true", "json": "false"})
    assert fragment.startswith("the smallest number") and not fragment.endswith(".")
    rare, common = math_facts(2022)
    assert rare == []
    assert "the product of the primes 2 × 3 × 337" in common
    assert "a composite number with 8 divisors" in common
    assert body_of(MATH, {"number": "2022"})["text"][len("2022 is ") : -1] in common


def test_number_translator_short_scale() -> None:
    assert body_of("Numbers Translator%%Numbers Translator", {})["text"] == (
        "Twenty-three quadrillion eight hundred seventy-nine trillion nine hundred eight "
        "billion seven hundred nine million eight hundred seventeen thousand eight hundred "
        "thirty-four"
    )
    assert english_words(0) == "zero"
    assert english_words(999999) == "nine hundred ninety-nine thousand nine hundred ninety-nine"
    assert english_words(10**21) == "one sextillion"
    assert english_words(1_000_001) == "one million one"
    big = body_of("Numbers Translator%%Numbers Translator", {"text": "1" + "0" * 63})
    assert big["text"] == "One vigintillion"
    too_long = call("Numbers Translator%%Numbers Translator", {"text": "1" * 67})
    assert too_long.status == 400 and "66" in too_long.body["error"]


@pytest.mark.parametrize(
    ("monto", "moneda", "spanish", "english"),
    [
        ("1", "PESOS", "UN PESO 00/100 M.N.", "ONE PESO 00/100 M.N."),
        ("21", "PESOS", "VEINTIUN PESOS 00/100 M.N.", "TWENTY-ONE PESOS 00/100 M.N."),
        ("100", "PESOS", "CIEN PESOS 00/100 M.N.", "ONE HUNDRED PESOS 00/100 M.N."),
        ("101", "PESOS", "CIENTO UN PESOS 00/100 M.N.", "ONE HUNDRED ONE PESOS 00/100 M.N."),
        ("1000", "PESOS", "MIL PESOS 00/100 M.N.", "ONE THOUSAND PESOS 00/100 M.N."),
        ("1000000", "PESOS", "UN MILLON DE PESOS 00/100 M.N.", "ONE MILLION PESOS 00/100 M.N."),
        ("2000000", "PESOS", "DOS MILLONES DE PESOS 00/100 M.N.", "TWO MILLION PESOS 00/100 M.N."),
        ("1250.50", "PESOS", "MIL DOSCIENTOS CINCUENTA PESOS 50/100 M.N.",
         "ONE THOUSAND TWO HUNDRED FIFTY PESOS 50/100 M.N."),
        ("1", "DOLARES", "UN DOLAR 00/100 USD", "ONE DOLLAR 00/100 USD"),
        ("1234.5", "EUROS", "MIL DOSCIENTOS TREINTA Y CUATRO EUROS 50/100 EUR",
         "ONE THOUSAND TWO HUNDRED THIRTY-FOUR EUROS 50/100 EUR"),
        ("21000", "DOLARES", "VEINTIUN MIL DOLARES 00/100 USD", "TWENTY-ONE THOUSAND DOLLARS 00/100 USD"),
        ("0.99", "PESOS", "CERO PESOS 99/100 M.N.", "ZERO PESOS 99/100 M.N."),
    ],
)
def test_cheque_style_amounts(monto: str, moneda: str, spanish: str, english: str) -> None:
    assert body_of(ES, {"moneda": moneda, "monto": monto})["letras"] == spanish
    assert body_of(EN, {"moneda": moneda, "monto": monto})["letras"] == english


def test_spanish_words_scale() -> None:
    assert spanish_words(1_001_000_000) == "MIL UN MILLONES"
    assert spanish_words(516) == "QUINIENTOS DIECISEIS"
    assert spanish_words(777_777) == "SETECIENTOS SETENTA Y SIETE MIL SETECIENTOS SETENTA Y SIETE"


def test_unknown_currency_lists_accepted_values() -> None:
    reply = call(ES, {"moneda": "YENES", "monto": "10"})
    assert reply.status == 400
    assert reply.body["accepted_values"] == ["PESOS", "DOLARES", "EUROS"]
    assert "YENES" in reply.body["error"]


# --- security --------------------------------------------------------------------------------


def test_passwords_have_the_asked_length_and_all_classes() -> None:
    name = "Password Generator API%%Password of length 50"
    assert len(body_of(name, {})["password"]) == 50
    for length in (8, 15, 65, 256):
        pw = body_of(name, {"length": str(length)})["password"]
        assert len(pw) == length
        assert any(c in string.ascii_lowercase for c in pw)
        assert any(c in string.ascii_uppercase for c in pw)
        assert any(c in string.digits for c in pw)
        assert any(not c.isalnum() for c in pw)
    assert len(body_of("Password Generator API%%Base", {})["password"]) == 16
    # another seed, another password
    assert body_of(name, {}, seed=1) != body_of(name, {}, seed=0)


def test_a_password_length_typed_as_text_is_read_as_a_number() -> None:
    """The study's description file types ``length`` STRING, so the server hands the
    simulator text: it is read as a number, and text that is not one is a 400 naming it."""
    import orjson

    from tool_mocks.simulators._base import REGISTRY, SimContext

    name = "Password Generator API%%Password of length 50"
    ctx = SimContext(seed=0, today=TODAY, api=name, canonical_args="{}")
    assert len(REGISTRY[name]({"length": "64"}, ctx).body["password"]) == 64
    refused = REGISTRY[name]({"length": "sixty"}, ctx)
    assert refused.status == 400 and "'length'" in orjson.dumps(refused.body).decode()


def test_token_shape() -> None:
    token = body_of("Token API%%generate", {})
    assert token["expires_in"] == 300 and len(token["token"]) == 48
    assert token["token"].isalnum()


# --- geo -------------------------------------------------------------------------------------


def test_geoname_lookup_and_country_filter() -> None:
    assert body_of(PLACES, {"name": "Sydney", "lang": "en", "country": "AU"}) == {
        "name": "Sydney", "partial_match": False, "country": "AU", "lat": -33.86785,
        "lon": 151.20732, "population": 5231147, "timezone": "Australia/Sydney", "status": "OK",
    }
    nova_scotia = body_of(PLACES, {"name": "Sydney", "lang": "en", "country": "CA"})
    assert nova_scotia["timezone"] == "America/Glace_Bay"
    assert body_of(PLACES, {"name": "moscow", "lang": "ru"})["name"] == "Москва"
    assert body_of(PLACES, {"name": "Sao Paulo", "lang": "en"})["name"] == "São Paulo"
    assert body_of(PLACES, {"name": "Londn", "lang": "en"})["partial_match"] is True
    missing = call(PLACES, {"name": "Paris", "lang": "en", "country": "JP"})
    assert missing.status == 404 and "Paris" in missing.body["error"] and "JP" in missing.body["error"]


def test_time_zone_offsets_are_real() -> None:
    assert body_of(TZ, {"lat": -33.8688, "lng": 151.2093}) == {
        "tz_id": "Australia/Sydney", "base_utc_offset": 36000, "dst_offset": 0, "use_dst": True,
    }
    # 2020-05-20: New York is on daylight saving time
    assert body_of(TZ, {"lat": 40.7, "lng": -74.0, "timestamp": 1589932800}) == {
        "tz_id": "America/New_York", "base_utc_offset": -18000, "dst_offset": 3600, "use_dst": True,
    }
    assert body_of(TZ, {"lat": 27.7172, "lng": 85.324})["base_utc_offset"] == 20700
    assert body_of(TZ, {"lat": 19.076, "lng": 72.8777})["use_dst"] is False
    winter = body_of(TZ, {"lat": 51.5074, "lng": -0.1278, "timestamp": 1609459200})
    assert (winter["tz_id"], winter["dst_offset"]) == ("Europe/London", 0)
    assert call(TZ, {"lat": 10, "lng": 10, "timestamp": 1e12}).status == 400


def test_forecast_has_exactly_the_asked_days_from_tomorrow() -> None:
    text = body_of("forecast_weather", {"location": "Rome, Italy", "days": 3})
    lines = text.splitlines()
    assert len(lines) == 4
    assert lines[1].startswith("2024-05-18 (Saturday)")
    assert lines[3].startswith("2024-05-20 (Monday)")


def test_weather_is_consistent_between_today_and_forecast() -> None:
    forecast = body_of("forecast_weather", {"location": "Tokyo", "days": 2}).splitlines()[2]
    later = body_of("get_weather_today", {"location": "Tokyo, Japan"}, today=dt.date(2024, 5, 19))
    high = forecast.split("high ")[1].split(" °C")[0]
    assert f"high {high} °C" in later


def test_weather_follows_latitude_and_season() -> None:
    def high(city: str, day: dt.date) -> float:
        text = body_of("get_weather_today", {"location": city}, today=day)
        return float(text.split("high ")[1].split(" °C")[0])

    january = dt.date(2024, 1, 15)
    assert high("Singapore", january) > high("Moscow", january) + 20
    assert high("Sydney, Australia", january) > high("Sydney, Australia", dt.date(2024, 7, 15))


def test_place_search_is_stable_and_local() -> None:
    args = {"query": "vegetarian restaurants in Berlin, Germany"}
    text = body_of("search_places", args)
    assert "Berlin" in text and "Vegetarian" in text
    same_query_other_call = call("search_places", dict(args))
    assert same_query_other_call.body == text


# --- knowledge -------------------------------------------------------------------------------


def test_wikipedia_search_and_suggestions() -> None:
    page = body_of("search", {"entity": "marie curie"})
    assert page.startswith("Marie Curie (7 November 1867")
    assert body_of("search", {"entity": "Rome attractions"}) == (
        "Could not find Rome attractions. Similar: ['Rome']"
    )
    assert "'Japanese cuisine'" in body_of("search", {"entity": "Traditional foods in Japan"})


def test_disambiguation_lists_pages() -> None:
    text = body_of("disambiguation", {"entity": "mercury"})
    assert text.splitlines()[0] == "Mercury may refer to:"
    assert "- Freddie Mercury: " in text and "- Mercury (element): " in text
    assert body_of("disambiguation", {"entity": "mammals"}).startswith("No disambiguation page")


def test_arxiv_matches_keywords() -> None:
    text = body_of("get_arxiv_article_information", {"query": "text summarization"})
    assert text.startswith("Published: 2017-04-14\nTitle: Get To The Point")
    assert text.count("Published:") <= 3
    assert body_of("get_arxiv_article_information", {"query": "medieval poetry"}) == (
        "No good Arxiv Result was found"
    )


def test_search_general_mixes_knowledge_and_snippets() -> None:
    text = body_of("search_general", {"query": "symptoms of common cold"})
    lines = text.splitlines()
    assert len(lines) == 5
    assert lines[0].startswith("Common cold - NHS - nhs.uk:")
    panel = body_of("search_general", {"query": "Eiffel Tower height"}).splitlines()[0]
    assert panel.startswith("Eiffel Tower - Wikipedia:")


def _result(body: dict[str, Any]) -> str:
    pods = body["queryresult"]["pods"]
    return next(p["plaintext"] for p in pods if p["title"] == "Result")


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("2^10 + 5", "1029"),
        ("2 + 3 * 4", "14"),
        ("(1+2)^10/3", "19683"),
        ("-2^2", "-4"),
        ("2^3^2", "512"),
        ("17 divided by 4", "17/4"),
        ("square root of 16", "4"),
        ("sqrt(2)", "1.41421356237"),
        ("cube root of -27", "-3"),
        ("1/0", "complex infinity"),
        ("what is 12 x 12?", "144"),
        ("1,000 times 3.5", "3500"),
        ("capital of France", "Paris"),
        ("population of Tokyo", "14,047,594 people (city proper)"),
        ("chemical formula for glucose", "C6H12O6"),
        ("boiling point of ethanol in Fahrenheit", "173.1 °F"),
        ("atomic number of oxygen", "8"),
        ("value of Avogadro's number", "6.02214076×10^23 per mole"),
    ],
)
def test_wolfram_answers(question: str, answer: str) -> None:
    assert _result(body_of("getWolframAlphaResults", {"input": question})) == answer


def test_wolfram_decimal_pod_and_failures() -> None:
    pods = body_of("getWolframAlphaResults", {"input": "7/2"})["queryresult"]["pods"]
    assert {"title": "Decimal approximation", "plaintext": "3.5"} in pods
    nothing = call("getWolframAlphaResults", {"input": "meaning of the colour blue"})
    assert nothing.status == 400 and "did not understand" in nothing.body["error"]
    huge = call("getWolframAlphaResults", {"input": "9^99999"})
    assert huge.status == 400 and "2000 digits" in huge.body["error"]


# --- the study's test set --------------------------------------------------------------------

# gold calls that are genuinely invalid: the real service only accepts PESOS, DOLARES, EUROS
GOLD_INVALID_MONEDA = {"JPY", "YENES", "POUNDS", "POUND", "RAND", "DOLLARS", "RUPIAH", "YEN",
                       "DOLARES AUSTRALIANOS", "THB", "REALES", "PHILIPPINE PESOS", "JAPANESE YEN"}


def _gold_calls() -> list[tuple[str, dict[str, Any]]]:
    path = REFERENCE / "tool_test.json"
    if not path.exists():
        return []
    data = json.loads(path.read_text(encoding="utf-8"))
    return [(name, json.loads(item["action_input"])) for name in SPECS for item in data.get(name, ())]


@pytest.mark.skipif(
    not (REFERENCE / "tool_test.json").exists(),
    reason="the study's reference data (../shared/reference/ste/tool_test.json) is not present",
)
def test_gold_action_inputs_answer_200() -> None:
    calls = _gold_calls()
    assert len(calls) == 19 * 15
    for name, args in calls:
        reply = call(name, args)
        if name in (ES, EN) and args.get("moneda") in GOLD_INVALID_MONEDA:
            assert reply.status == 400 and "moneda" in reply.body["error"], (name, args, reply)
            continue
        assert reply.status == 200, (name, args, reply)
