"""Simulators of group B: games, sports, business and school APIs."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
from simcall import body_of, call

import tool_mocks.simulators  # noqa: F401  (registers every simulator)
from ste_async.catalog import builtin_catalog
from tool_mocks.simulators._base import REGISTRY
from tool_mocks.simulators.business import (
    aqi_category,
    dew_point,
    email_syntax_ok,
    match_industries,
    pacific_is_dst,
    promo_price,
)
from tool_mocks.simulators.school import nota_promedio, school_year_start
from tool_mocks.simulators.sports import h2h_statistics

ROOT = Path(__file__).resolve().parents[1]
PLAYBOOK: dict[str, list[dict[str, Any]]] = json.loads(
    (ROOT / "tool_mocks" / "data" / "playbook_b.json").read_text(encoding="utf-8")
)
SPECS = {n: builtin_catalog()[n] for n in PLAYBOOK if "#" not in n}
REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "ste"
TODAY = dt.date(2024, 5, 17)

EMAIL = "Global Email V4%%Global Email V4"
WEATHER = "Weather_dataSet%%Weather_dataSet"
BART = "BART%%Advisory information"
FILTER = "GamerPower%%Filter & Group Giveaways"
BY_TYPE = "GamerPower%%Live giveaways by type"
TALK = "English Talking%%Get an answer"
SCHED = "Handball Data%%Daily Match List-Scheduled"
LIVE = "Handball Data%%Daily Match List-Live"
SHOW = "Marvel Vs Capcom 2%%Show Character"
ROSTER = "Marvel Vs Capcom 2%%All Characters"
PIZZA = "pizzaallapala%%Get Producto Promo"
PESAN = "Grup Terbuka%%Kirim Pesan"
INDUSTRY = "siteDomain%%industry list"
SOCCER = "Soccer Data%%Tournament List"
F1 = "F1 Latest News%%GET recent F1 news from all sources"
BRIGHTCOVE = "Fake Brightcove%%Temp Upload URLs"
CATCHLOC = "CatchLoc%%[Group Management] API access for modifying group information"
DOLPHIN = "Football Dolphin%%Head to head statistics"
DISC = "colegiosantaana%%Disciplina-1"
MSGS = "colegiosantaana%%Mensajes-1"
EVALS = "colegiosantaana%%Evaluaciones-1"
CL_API = "api.common.group.set.modify"
CL_KEYS = {"api_key": "a1b2c3d4e5f6a7b8c9d0", "cert_key": "0f1e2d3c4b5a69788796"}


def _valid_entries() -> list[tuple[str, dict[str, Any]]]:
    return [(k, e["args"]) for k, v in PLAYBOOK.items() if "#" not in k for e in v]


def _invalid_entries() -> list[tuple[str, dict[str, Any], int]]:
    return [
        (k.split("#")[0], e["args"], e["status"])
        for k, v in PLAYBOOK.items()
        if k.endswith("#invalid")
        for e in v
    ]


# ---------------------------------------------------------------------------------------
# catalog fragment and playbook


def test_fragment_covers_31_apis_each_with_a_simulator() -> None:
    assert len(SPECS) == 31
    for name, spec in SPECS.items():
        assert name in REGISTRY, name
        assert spec.description and spec.category
    if (REFERENCE / "API_list.json").is_file():
        official = set(json.loads((REFERENCE / "API_list.json").read_text(encoding="utf-8")))
        assert set(SPECS) <= official


def test_fragment_keeps_the_study_parameter_split() -> None:
    path = REFERENCE / "API_descriptions_50.json"
    if not path.is_file():
        pytest.skip(f"the study's reference data is not at {REFERENCE}")
    study = json.loads(path.read_text(encoding="utf-8"))
    for name, spec in SPECS.items():
        raw = json.loads(study[name])
        assert [p.name for p in spec.required] == [p["name"] for p in raw["required_parameters"]], (
            name
        )
        assert [p.name for p in spec.optional] == [p["name"] for p in raw["optional_parameters"]], (
            name
        )


def test_playbook_shape() -> None:
    for name in SPECS:
        assert 6 <= len(PLAYBOOK[name]) <= 8, name
        assert all(e["query"].strip() for e in PLAYBOOK[name])
        assert 2 <= len(PLAYBOOK[f"{name}#invalid"]) <= 3, name


@pytest.mark.parametrize(("name", "args"), _valid_entries())
def test_playbook_entry_answers_200(name: str, args: dict[str, Any]) -> None:
    reply = call(name, args)
    assert reply.status == 200, reply
    orjson.dumps(reply.body)  # JSON-serialisable
    assert call(name, args) == reply  # deterministic


@pytest.mark.parametrize(("name", "args", "status"), _invalid_entries())
def test_playbook_invalid_entry_is_rejected_with_a_named_problem(
    name: str, args: dict[str, Any], status: int
) -> None:
    reply = call(name, args)
    assert reply.status == status, reply
    assert isinstance(reply.body, dict)
    message = reply.body.get("error") or reply.body.get("message")
    assert isinstance(message, str) and message
    text = orjson.dumps(reply.body).decode()
    named = [p.name for p in SPECS[name].params if p.name in text] + [
        str(v) for v in args.values() if isinstance(v, str) and v and v in text
    ]
    assert named or "unknown parameter" in message, reply.body


# ---------------------------------------------------------------------------------------
# determinism


def test_seeded_outputs_depend_on_the_seed_and_day_only() -> None:
    for name in (F1, WEATHER, FILTER, SCHED, EVALS):
        args = PLAYBOOK[name][0]["args"]
        assert call(name, args) == call(name, args)
    assert body_of(F1, {}) != body_of(F1, {}, seed=1)
    assert body_of(F1, {}) != body_of(F1, {}, today=TODAY + dt.timedelta(days=1))


# ---------------------------------------------------------------------------------------
# games


def test_mvc2_roster_is_the_real_56_characters() -> None:
    roster = [c for c in body_of(ROSTER, {}) if c["playable"]]
    assert len(roster) == 56  # plus the unplayable boss Abyss
    assert Counter(c["universe"] for c in roster) == {"Marvel": 28, "Capcom": 28}
    names = {c["name"] for c in roster}
    assert {"Cable", "Magneto", "Ryu", "Morrigan Aensland", "Tron Bonne", "Venom"} <= names
    assert body_of(SHOW, {"name": "abyss"})["playable"] is False


def test_mvc2_show_character_is_case_insensitive_and_knows_aliases() -> None:
    assert body_of(SHOW, {"name": "sPiDeR-mAn"})["name"] == "Spider-Man"
    assert body_of(SHOW, {"name": "Morrigan"})["name"] == "Morrigan Aensland"
    assert body_of(SHOW, {"name": "Strider"})["name"] == "Strider Hiryu"
    miss = call(SHOW, {"name": "Cabel"})
    assert miss.status == 404 and "Cabel" in miss.body["error"]
    assert "Cable" in miss.body["suggestions"]


def test_giveaway_catalogue_and_type_filter() -> None:
    counts = {t: len(body_of(BY_TYPE, {"type": t})) for t in ("game", "loot", "beta")}
    assert counts == {"game": 20, "loot": 14, "beta": 6}  # 40 giveaways in all
    for g in body_of(BY_TYPE, {"type": "beta"}):
        assert g["type"] == "Early Access"
        assert g["end_date"] == "N/A" or g["end_date"][:10] > TODAY.isoformat()
    bad = call(BY_TYPE, {"type": "DLC"})
    assert (
        bad.status == 400
        and "'dlc'" in bad.body["error"]
        and bad.body["valid_types"] == ["game", "loot", "beta"]
    )


def test_giveaway_platform_filter_matches_platform_and_type() -> None:
    found = body_of(FILTER, {"platform": "ps5.switch", "type": "loot"})
    assert found
    for g in found:
        assert g["type"] == "DLC"
        assert "Playstation 5" in g["platforms"] or "Nintendo Switch" in g["platforms"]
    bad = call(FILTER, {"platform": "steam.nintendo-3ds"})
    assert bad.status == 400 and "nintendo-3ds" in bad.body["error"]
    assert "ps4" in call(FILTER, {"platform": "playstation-4"}).body["error"]
    assert body_of(FILTER, {"platform": "PC"}) == body_of(FILTER, {"platform": "pc"})


def test_jak_documents_hold_real_facts() -> None:
    ben = body_of("JAK_API%%Ben 10", {})
    assert ben["network"] == "Cartoon Network" and "Heatblast" in {a["name"] for a in ben["aliens"]}
    brawl = body_of("JAK_API%%Brawl Stars", {})
    frank = next(b for b in brawl["brawlers"] if b["name"] == "Frank")
    assert frank["rarity"] == "Epic" and frank["class"] == "Tank"
    miraculous = body_of("JAK_API%%Miraculous", {})
    assert {h["hero_name"]: h["kwami"] for h in miraculous["holders"]}["Ladybug"] == "Tikki"
    genshin = body_of("JAK_API%%Genshin Impact", {})
    venti = next(c for c in genshin["characters"] if c["name"] == "Venti")
    assert venti["vision"] == "Anemo" and venti["ascension_materials"]["gem"] == "Vayuda Turquoise"
    assert len(venti["constellation_levels"]) == 6


def test_miku_image_is_seeded_per_call() -> None:
    image = body_of("MikuAPI%%getRandomImage", {})
    assert image["url"].endswith(image["filename"])
    assert image != body_of("MikuAPI%%getRandomImage", {}, seed=7)


# ---------------------------------------------------------------------------------------
# sports


def test_handball_date_window_and_format() -> None:
    assert call(SCHED, {"date": "24/05/2024"}).status == 200
    assert call(SCHED, {"date": "10/05/2024"}).status == 200
    late = call(SCHED, {"date": "25/05/2024"})
    assert late.status == 400 and "± 7 days" in late.body["error"]
    bad = call(LIVE, {"date": "2024-05-17"})
    assert bad.status == 400 and "DD/MM/YYYY" in bad.body["error"]


def test_handball_live_is_the_in_progress_part_of_the_day() -> None:
    day = body_of(SCHED, {"date": "17/05/2024"})
    live = body_of(LIVE, {"date": "17/05/2024"})
    assert live and all(m in day for m in live)
    for m in live:
        assert 1 <= m["liveTime"]["minute"] <= 60
        assert m["homeScore"]["current"] >= m["homeScore"]["period1"] >= 0
    assert [m for m in day if "liveTime" in m] == live
    teams = [t for m in day for t in (m["homeTeam"]["name"], m["awayTeam"]["name"])]
    assert len(teams) == len(set(teams))  # no club plays twice the same day
    assert body_of(LIVE, {"date": "16/05/2024"}) == []
    past = body_of(SCHED, {"date": "15/05/2024"})
    assert past and all(m["status"]["name"] == "Ended" for m in past)
    future = body_of(SCHED, {"date": "20/05/2024"})
    assert all(m["status"]["name"] == "Not Started" and "homeScore" not in m for m in future)


def test_soccer_seasons_follow_today() -> None:
    def seasons(today: dt.date) -> dict[str, str]:
        return {t["name"]: t["season"]["name"] for t in body_of(SOCCER, {}, today=today)}

    assert seasons(TODAY)["Premier League"] == "2023/2024"
    assert seasons(dt.date(2024, 8, 1))["Premier League"] == "2024/2025"
    assert seasons(TODAY)["Major League Soccer"] == "2024"


def test_f1_news_mentions_the_last_and_next_grand_prix() -> None:
    articles = body_of(F1, {})
    assert 10 <= len(articles) <= 30
    assert {a["source"] for a in articles} == {"f1", "skyf1", "bbc", "wtf1", "autosport"}
    titles = " ".join(a["title"] for a in articles)
    # on 17 May 2024 the last race was Miami (5 May) and the next Imola (19 May)
    assert "Miami Grand Prix" in titles or "Emilia Romagna Grand Prix" in titles
    assert "Monaco" not in titles
    assert [a["published"] for a in articles] == sorted(
        (a["published"] for a in articles), reverse=True
    )


def test_head_to_head_is_mirrored_and_consistent() -> None:
    ab = body_of(
        DOLPHIN,
        {
            "first_team": "Man United",
            "second_team": "Liverpool",
            "type_of_statistics": "full time result",
        },
    )
    ba = body_of(
        DOLPHIN,
        {
            "first_team": "Liverpool",
            "second_team": "Man United",
            "type_of_statistics": "full time result",
        },
    )
    assert ab["matches_played"] == 56  # both ever-present: 28 seasons, home and away
    assert ab["first_team_wins"] == ba["second_team_wins"]
    assert ab["second_team_wins"] == ba["first_team_wins"]
    assert ab["draws"] == ba["draws"]
    assert ab["first_team_wins"] + ab["draws"] + ab["second_team_wins"] == 56
    home_ab = h2h_statistics("Man United", "Liverpool", "home vs away full time result", 0)
    home_ba = h2h_statistics("Liverpool", "Man United", "home vs away full time result", 0)
    assert home_ab["matches_played"] == home_ba["matches_played"] == 28
    assert (
        home_ab["first_team_home_wins"]
        + home_ba["second_team_away_wins"]
        + home_ab["second_team_away_wins"]
        + home_ba["first_team_home_wins"]
    ) == ab["first_team_wins"] + ab["second_team_wins"]
    htft = h2h_statistics("Chelsea", "Tottenham", "result first half and the match", 0)
    assert sum(htft["results"].values()) == htft["matches_played"]
    goals = h2h_statistics("Chelsea", "Tottenham", "exact number of goals in the match", 0)
    assert sum(goals["goals"].values()) == goals["matches_played"]
    over = h2h_statistics("Chelsea", "Tottenham", "goals over", 0)["goals_over"]
    under = h2h_statistics("Chelsea", "Tottenham", "goals under", 0)["goals_under"]
    for line in ("0.5", "1.5", "2.5", "3.5", "4.5", "5.5"):
        assert over[f"over {line}"] + under[f"under {line}"] == htft["matches_played"]
    exact = goals["goals"]
    assert over["over 2.5"] == sum(exact[k] for k in ("3", "4", "5", "6+"))


def test_head_to_head_rejects_unknown_and_identical_teams() -> None:
    bad = call(
        DOLPHIN,
        {
            "first_team": "Manchester City",
            "second_team": "Arsenal",
            "type_of_statistics": "full time result",
        },
    )
    assert bad.status == 400 and "Man City" in bad.body["close_matches"]
    same = call(
        DOLPHIN,
        {"first_team": "Arsenal", "second_team": "arsenal", "type_of_statistics": "goals over"},
    )
    assert same.status == 400 and "both" in same.body["error"]
    kind = call(
        DOLPHIN,
        {"first_team": "Arsenal", "second_team": "Chelsea", "type_of_statistics": "corners"},
    )
    assert kind.status == 400 and "type_of_statistics" in kind.body["error"]


# ---------------------------------------------------------------------------------------
# business


@pytest.mark.parametrize(
    ("email", "valid"),
    [
        ("support@melissa.com", True),
        ("first.last+tag@sub.example.co.uk", True),
        ("a@b.co", True),
        ("no-at-sign.com", False),
        ("two@@signs.com", False),
        (".leading@dot.com", False),
        ("double..dot@x.com", False),
        ("user@-bad-.com", False),
        ("user@nodot", False),
        ("user@numeric.123", False),
        ("x" * 65 + "@long.com", False),
    ],
)
def test_email_syntax(email: str, valid: bool) -> None:
    assert email_syntax_ok(email) is valid


def test_email_result_codes() -> None:
    def record(email: str, opt: str = "VerifyMailbox:ExpressPremium") -> dict[str, Any]:
        return body_of(EMAIL, {"opt": opt, "email": email})["Records"][0]

    assert record("bad@@mail.com")["Results"] == "EE01"
    assert record("bad@@mail.com")["DeliverabilityConfidenceScore"] == "0"
    assert record("someone@unknown.zzz")["Results"] == "EE02"
    reserved = record("info@example.org")
    assert reserved["Results"] == "EE03" and reserved["DomainName"] == "example"
    assert reserved["TopLevelDomainName"] == "Organization"
    role = record("support@website.com")
    assert role["Results"] == "EE04" or "ES08" in role["Results"].split(",")
    assert record("jane.doe@gmail.com")["DomainTypeIndicator"] == "Personal"
    xml = body_of(EMAIL, {"opt": "VerifyMailbox:Express", "email": "a@b.com", "format": "xml"})
    assert xml.startswith("<?xml") and "<EmailAddress>a@b.com</EmailAddress>" in xml
    both = call(
        EMAIL, {"opt": "VerifyMailbox:Express|VerifyMailbox:ExpressPremium", "email": "a@b.com"}
    )
    assert both.status == 400 and "one option" in both.body["error"]


def test_weather_computations() -> None:
    assert [aqi_category(v) for v in (0, 50, 51, 100, 101, 150, 151, 200, 201, 300, 301)] == [
        "Good",
        "Good",
        "Moderate",
        "Moderate",
        "Unhealthy for Sensitive Groups",
        "Unhealthy for Sensitive Groups",
        "Unhealthy",
        "Unhealthy",
        "Very Unhealthy",
        "Very Unhealthy",
        "Hazardous",
    ]
    assert dew_point(20.0, 50) == 9.3
    assert dew_point(30.0, 100) == 30.0
    rec = body_of(WEATHER, {"data": "Barcelon"})  # a unique prefix is accepted
    assert rec["city"] == "Barcelona"
    cur = rec["current"]
    assert cur["temperature_f"] == round(cur["temperature_c"] * 9 / 5 + 32, 1)
    assert cur["dew_point_c"] == dew_point(cur["temperature_c"], cur["humidity"])
    assert rec["air_quality"]["category"] == aqi_category(rec["air_quality"]["aqi"])
    assert [d["date"] for d in rec["forecast"]] == [f"2024-05-{d}" for d in range(18, 25)]
    assert body_of(WEATHER, {"data": "5"}) == rec
    missing = call(WEATHER, {"data": "Berlim"})
    assert missing.status == 404 and "Berlin" in missing.body["close_matches"]


def test_bart_dst_and_station_checks() -> None:
    assert pacific_is_dst(dt.date(2024, 3, 10)) and not pacific_is_dst(dt.date(2024, 3, 9))
    assert pacific_is_dst(dt.date(2024, 11, 2)) and not pacific_is_dst(dt.date(2024, 11, 3))
    assert body_of(BART, {"cmd": "bsa"})["root"]["time"].endswith("PDT")
    assert body_of(BART, {"cmd": "bsa"}, today=dt.date(2024, 1, 10))["root"]["time"].endswith("PST")
    every = body_of(BART, {"cmd": "bsa"})["root"]["bsa"]
    for adv in every:
        if adv["station"]:
            one = body_of(BART, {"cmd": "bsa", "orig": adv["station"].lower()})["root"]["bsa"]
            assert adv in one and all(a["station"] == adv["station"] for a in one)
    bad = call(BART, {"cmd": "bsa", "orig": "XXXX"})
    assert bad.status == 400 and "XXXX" in bad.body["error"]
    cmd = call(BART, {"cmd": "etd"})
    assert cmd.status == 400 and cmd.body["valid_cmd"] == ["bsa"]


def test_pizzeria_promo_prices() -> None:
    assert promo_price(8500, 10) == 7650
    assert promo_price(3900, 15) == 3310
    promos = body_of(PIZZA, {})
    assert len(promos) == 8
    for p in promos:
        assert p["precioPromo"] == promo_price(p["precio"], p["descuento"])
        assert p["vigenteHasta"] == "2024-05-19"  # the Sunday of that week


def test_brightcove_upload_urls() -> None:
    body = body_of(
        BRIGHTCOVE, {"source_name": "video.mp4", "video_id": "12345", "account_id": "67890"}
    )
    assert body["object_key"].startswith("67890/12345/") and body["object_key"].endswith(
        "/video.mp4"
    )
    assert body["signed_url"].startswith(body["api_request_url"] + "?")
    assert "Expires=1715990400" in body["signed_url"]  # 2024-05-18T00:00:00Z
    empty = call(BRIGHTCOVE, {"source_name": "video", "video_id": "", "account_id": ""})
    assert empty.status == 400 and "video_id" in empty.body["error"]


def test_catchloc_codes() -> None:
    args = {
        "timestamp": "1715940000",
        "group_name": "Delivery team",
        "api": CL_API,
        "group_key": "G1024",
        **CL_KEYS,
    }
    done = body_of(CATCHLOC, args)
    assert done["result"] == "success" and done["data"]["modified_at"] == "2024-05-17 10:00:00"
    assert (
        body_of(CATCHLOC, {**args, "timestamp": "1715940000000"})["data"]["modified_at"]
        == "2024-05-17 10:00:00"
    )
    no_key = body_of(CATCHLOC, {**args, "api_key": ""})
    assert no_key["result"] == "fail" and no_key["error_code"] == "E101"
    assert body_of(CATCHLOC, {**args, "cert_key": "your_cert_key"})["error_code"] == "E102"
    assert body_of(CATCHLOC, {**args, "timestamp": "yesterday"})["error_code"] == "E103"
    assert body_of(CATCHLOC, {**args, "group_name": ""})["error_code"] == "E202"
    wrong = call(CATCHLOC, {**args, "api": "api.common.group.get"})
    assert wrong.status == 400 and CL_API in wrong.body["error"]


def test_kirim_pesan_keys_and_message() -> None:
    sent = body_of(PESAN, {"pesan": "halo", "key": "my_api_key"})
    assert sent["status"] is True and sent["data"]["pesan"] == "halo"
    assert call(PESAN, {"pesan": "halo", "key": ""}).status == 401
    assert call(PESAN, {"pesan": "halo", "key": "a b"}).status == 403
    assert call(PESAN, {"pesan": " ", "key": "my_api_key"}).status == 400


def test_english_talking_answers_and_filters() -> None:
    hi = body_of(TALK, {"speech": "hi"})["entity"]
    assert [d["answer"] for d in hi] == ["Hi, how are you?"]
    new = body_of(TALK, {"speech": "I just moved to a new city."})["entity"]
    assert len(new) == 1 and new[0]["status"] == "analyzing" and len(new[0]["_id"]) == 24
    assert all(d["status"] == "analyzing" for d in body_of(TALK, {"status": "analyzing"})["entity"])
    assert call(TALK, {"status": "done"}).status == 400
    assert call(TALK, {"_id": "ffffffffffffffffffffffff"}).status == 404


def test_industry_alias_matching() -> None:
    assert len(match_industries("")) == len(match_industries("   ")) > 30
    assert [r[0] for r in match_industries("62")] == ["62"]
    assert {r[0] for r in match_industries("www.healthylivingtips.com")} >= {"86"}
    assert {r[0] for r in match_industries("financialnews")} >= {"64", "58"}
    empty = body_of(INDUSTRY, {"alias": "www.example.com"})
    assert empty["total"] == 0 and empty["data"] == []


def test_reference_lists() -> None:
    makes = body_of("Car database%%Makes", {})
    names = [m["name"] for m in makes]
    assert [m["id"] for m in makes] == list(range(1, len(makes) + 1))
    assert {"Toyota", "Škoda", "Volkswagen", "Mercedes-Benz"} <= set(names)
    portals = {p["portail"] for p in body_of("Fluximmo%%get_portail_api", {})}
    assert {"leboncoin", "pap", "seloger", "meilleursagents", "explorimmo"} <= portals
    langs = body_of("siteDomain%%language list", {})["data"]
    assert langs[0]["lang"] == "zh-TW" and langs[0]["is_default"]
    thai = body_of("thailand%%thai4", {})
    assert thai["capital"] == "Bangkok" and "sawasdee" in thai["greeting"]["phrase"]


# ---------------------------------------------------------------------------------------
# school


def test_school_year_and_rounding() -> None:
    assert school_year_start(TODAY) == dt.date(2024, 3, 4)
    assert school_year_start(dt.date(2025, 2, 1)) == dt.date(2024, 3, 4)
    assert nota_promedio([6.5, 6.6]) == 6.6  # half up, unlike round(6.55, 1)
    assert nota_promedio([5.0, 6.0, 6.5]) == 5.8
    assert nota_promedio([4.0]) == 4.0


def test_school_records_are_consistent() -> None:
    disc, msgs, evals = body_of(DISC, {}), body_of(MSGS, {}), body_of(EVALS, {})
    assert disc["alumno"] == msgs["alumno"] == evals["alumno"]
    assert disc["resumen"] == dict(Counter(r["tipo"] for r in disc["registros"]))
    assert all(r["fecha"] <= TODAY.isoformat() for r in disc["registros"])
    by_id = {r["id"]: r for r in disc["registros"]}
    for m in msgs["mensajes"]:
        assert m["fecha"][:10] <= TODAY.isoformat()
        if m["tipo"] == "Citación":
            note = by_id[m["anotacion_id"]]
            assert (
                note["tipo"] == "Anotación negativa"
                and note["profesor"] == m["remitente"]["nombre"]
            )
    assert msgs["total"] == len(msgs["mensajes"])
    assert msgs["no_leidos"] == sum(not m["leido"] for m in msgs["mensajes"])
    for subject, avg in evals["promedios"].items():
        notas = [
            e["nota"]
            for e in evals["evaluaciones"]
            if e["asignatura"] == subject and e["nota"] is not None
        ]
        assert avg == nota_promedio(notas)
    assert evals["promedio_general"] == nota_promedio(list(evals["promedios"].values()))
    for e in evals["evaluaciones"]:
        assert (e["nota"] is None) == (e["fecha"] > TODAY.isoformat())
        assert e["nota"] is None or 1.0 <= e["nota"] <= 7.0
    # the past does not change as the year goes on
    later = body_of(DISC, {}, today=TODAY + dt.timedelta(days=30))
    assert [r for r in later["registros"] if r["fecha"] <= TODAY.isoformat()] == disc["registros"]


# ---------------------------------------------------------------------------------------
# the study's gold calls

# Gold calls that are genuinely invalid for the API, by (api, item index): the status the
# simulator gives and why. Every other gold call must answer 200.
_HB_REASON = "not a dd/MM/yyyy date, or outside today ± 7 days (today is 2024-05-17)"
GOLD_EXCEPTIONS: dict[str, dict[int, tuple[int, str]]] = {
    "PTL%%update": {i: (400, "required info1..info3 missing") for i in (4, 14)},
    FILTER: {
        i: (400, "platform slug or giveaway type outside the real closed sets")
        for i in range(4, 15)
    },
    BY_TYPE: {i: (400, "type must be game, loot or beta") for i in (0, 5, 7, 13)},
    SCHED: {i: (400, _HB_REASON) for i in range(15)},
    LIVE: {i: (400, _HB_REASON) for i in range(15)},
    PESAN: {5: (401, "empty key"), **{i: (400, "empty message") for i in (6, 8, 10)}},
    BRIGHTCOVE: {i: (400, "empty video_id/account_id") for i in (2, 3, 4, 10, 11, 12, 13, 14)},
}


def _gold_items() -> list[tuple[str, int, str]]:
    path = REFERENCE / "tool_test.json"
    if not path.is_file():
        return []
    data = json.loads(path.read_text(encoding="utf-8"))
    return [(name, i, item["action_input"]) for name in SPECS for i, item in enumerate(data[name])]


@pytest.mark.skipif(
    not (REFERENCE / "tool_test.json").is_file(),
    reason=f"the study's reference data is not at {REFERENCE}",
)
@pytest.mark.parametrize(("name", "index", "action_input"), _gold_items())
def test_gold_action_input(name: str, index: int, action_input: str) -> None:
    args = json.loads(action_input)
    reply = call(name, args)
    expected = GOLD_EXCEPTIONS.get(name, {}).get(index, (200, ""))[0]
    assert reply.status == expected, (args, reply)
