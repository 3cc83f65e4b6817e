"""Simulated catalog-like APIs of the STE study: reference lists and datasets.

siteDomain system languages and Taiwan industry codes, the French real-estate portals of
Fluximmo, car makes, Thai travel facts, a pizzeria's weekly promotions, a Django weather
dataset and BART service advisories.
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
import re
from typing import Any

from ._base import Reply, SimContext, bad_request, not_found, ok, simulator, stable_int
from ._business_data import (
    AQI_BANDS,
    BART_CAUSES,
    BART_DIRECTIONS,
    BART_STATIONS,
    CAR_MAKES,
    CONDITIONS_BY_RAIN,
    INDUSTRIES,
    PIZZERIA,
    PORTALS,
    SITE_LANGUAGES,
    THAILAND,
    WEATHER_CITIES,
)

__all__ = (
    "aqi_category",
    "bart_advisories",
    "car_makes",
    "dew_point",
    "fluximmo_portals",
    "match_industries",
    "pacific_is_dst",
    "pizzeria_promos",
    "promo_price",
    "site_industries",
    "site_languages",
    "thailand",
    "weather_dataset",
)


# =======================================================================================
# siteDomain


@simulator("siteDomain%%language list")
def site_languages(args: dict[str, Any], ctx: SimContext) -> Reply:
    return ok(
        {
            "code": 0,
            "message": "success",
            "data": [
                {
                    "id": i + 1,
                    "lang": code,
                    "name": native,
                    "english_name": english,
                    "is_default": i == 0,
                }
                for i, (code, native, english) in enumerate(SITE_LANGUAGES)
            ],
        }
    )


def match_industries(alias: str) -> list[tuple[str, str, str, tuple[str, ...]]]:
    """Industries whose code, name or keywords appear in ``alias`` (all of them for '')."""
    text = re.sub(r"^(https?://)?(www\.)?", "", alias.strip().lower())
    text = re.sub(r"\.(com|net|org|tw|io)(\.[a-z]{2})?/?$", "", text)
    if not text:
        return list(INDUSTRIES)
    squashed = re.sub(r"[^a-z0-9]", "", text)
    out = []
    for row in INDUSTRIES:
        code, zh, en, words = row
        if (
            text == code
            or text in zh
            or (len(squashed) >= 3 and squashed in re.sub(r"[^a-z0-9]", "", en.lower()))
            or any(w in squashed for w in words)
        ):
            out.append(row)
    return out


@simulator("siteDomain%%industry list")
def site_industries(args: dict[str, Any], ctx: SimContext) -> Reply:
    # Documented choice: an alias that matches nothing answers 200 with an empty list.
    rows = match_industries(args["alias"])
    return ok(
        {
            "code": 0,
            "message": "success" if rows else f"no industry matches alias {args['alias']!r}",
            "total": len(rows),
            "data": [{"code": c, "name": zh, "english_name": en} for c, zh, en, _ in rows],
        }
    )


# =======================================================================================
# Fluximmo, Car database, thailand, pizzaallapala: reference lists


@simulator("Fluximmo%%get_portail_api")
def fluximmo_portals(args: dict[str, Any], ctx: SimContext) -> Reply:
    return ok(
        [
            {"portail": key, "nom": name, "url": url, "type": kind, "actif": True}
            for key, name, url, kind in PORTALS
        ]
    )


@simulator("Car database%%Makes")
def car_makes(args: dict[str, Any], ctx: SimContext) -> Reply:
    return ok([{"id": i + 1, "name": make} for i, make in enumerate(CAR_MAKES)])


@simulator("thailand%%thai4")
def thailand(args: dict[str, Any], ctx: SimContext) -> Reply:
    return ok(THAILAND)


def promo_price(price: int, discount: int) -> int:
    """Promotional price, rounded down to the nearest 10 pesos like a menu board."""
    return price * (100 - discount) // 1000 * 10


@simulator("pizzaallapala%%Get Producto Promo")
def pizzeria_promos(args: dict[str, Any], ctx: SimContext) -> Reply:
    year, week, weekday = ctx.today.isocalendar()
    rng = ctx.entity_rng("pizzaallapala-promos", year, week)
    until = ctx.today + dt.timedelta(days=7 - weekday)  # promotions run until Sunday
    picks = sorted(rng.sample(PIZZERIA, 8))
    return ok(
        [
            {
                "id": pid,
                "nombre": name,
                "descripcion": desc,
                "categoria": cat,
                "precio": price,
                "descuento": (d := rng.choice((10, 15, 20, 25, 30))),
                "precioPromo": promo_price(price, d),
                "imagen": f"https://pizzaallapala.example.net/img/productos/{pid}.jpg",
                "vigenteHasta": until.isoformat(),
                "disponible": True,
            }
            for pid, name, desc, cat, price in picks
        ]
    )


# =======================================================================================
# Weather_dataSet


def aqi_category(aqi: int) -> str:
    """US EPA category of an AQI value."""
    for upper, name in AQI_BANDS:
        if aqi <= upper:
            return name
    return "Hazardous"


def dew_point(temp_c: float, humidity: float) -> float:
    """Magnus-formula dew point in degrees C."""
    a, b = 17.62, 243.12
    gamma = math.log(humidity / 100) + a * temp_c / (b + temp_c)
    return round(b * gamma / (a - gamma), 1)


def _seasonal_mean(city: tuple[Any, ...], day: dt.date) -> float:
    _, _, _, _, mean, swing, south, _, _ = city
    peak = 20 if south else 201  # warmest day of the year, roughly
    return mean + swing * math.cos(2 * math.pi * (day.timetuple().tm_yday - peak) / 365.25)


def _weather_record(index: int, ctx: SimContext) -> dict[str, Any]:
    city = WEATHER_CITIES[index]
    name, country, lat, lon, _, _, _, humidity0, aqi0 = city
    rng = ctx.entity_rng("weather-dataset", name, ctx.today.isoformat())
    temp = round(_seasonal_mean(city, ctx.today) + rng.gauss(0, 2.0), 1)
    humidity = max(15, min(100, humidity0 + rng.randint(-12, 12)))
    rain = rng.random() * humidity / 100
    aqi = max(5, int(aqi0 * rng.uniform(0.6, 1.4)))
    forecast = []
    for i in range(1, 8):
        day = ctx.today + dt.timedelta(days=i)
        mid = _seasonal_mean(city, day) + rng.gauss(0, 2.0)
        spread = rng.uniform(3, 9)
        chance = int(min(95, max(0, rng.gauss(humidity - 45, 20))))
        forecast.append(
            {
                "date": day.isoformat(),
                "min_temp_c": round(mid - spread / 2, 1),
                "max_temp_c": round(mid + spread / 2, 1),
                "condition": CONDITIONS_BY_RAIN[min(6, chance // 15)],
                "precipitation_chance": chance,
                "aqi": max(5, int(aqi0 * rng.uniform(0.6, 1.4))),
            }
        )
    return {
        "id": index + 1,
        "city": name,
        "country": country,
        "latitude": lat,
        "longitude": lon,
        "recorded_at": f"{ctx.today.isoformat()}T12:00:00Z",
        "current": {
            "temperature_c": temp,
            "temperature_f": round(temp * 9 / 5 + 32, 1),
            "condition": CONDITIONS_BY_RAIN[min(6, int(rain * 8))],
            "humidity": humidity,
            "dew_point_c": dew_point(temp, humidity),
            "wind_kph": round(rng.uniform(3, 28), 1),
            "wind_direction": rng.choice(("N", "NE", "E", "SE", "S", "SW", "W", "NW")),
            "pressure_hpa": rng.randint(1002, 1026),
        },
        "air_quality": {
            "aqi": aqi,
            "category": aqi_category(aqi),
            "main_pollutant": rng.choice(("pm2_5", "pm10", "o3", "no2")),
        },
        "forecast": forecast,
    }


@simulator("Weather_dataSet%%Weather_dataSet")
def weather_dataset(args: dict[str, Any], ctx: SimContext) -> Reply:
    if "data" not in args:
        return ok(
            {
                "count": len(WEATHER_CITIES),
                "results": [
                    {"id": i + 1, "city": c[0], "country": c[1]}
                    for i, c in enumerate(WEATHER_CITIES)
                ],
            }
        )
    query = args["data"].strip()
    if not query:
        return bad_request(
            "parameter 'data' is empty; give a record id or a city name", parameter="data"
        )
    if query.isdigit():
        index = int(query) - 1
        if not 0 <= index < len(WEATHER_CITIES):
            return not_found(
                f"no weather record with id {query}; ids run from 1 to {len(WEATHER_CITIES)}"
            )
        return ok(_weather_record(index, ctx))
    folded = query.casefold()
    names = [c[0] for c in WEATHER_CITIES]
    exact = [i for i, n in enumerate(names) if n.casefold() == folded]
    # a unique prefix of at least four letters is accepted, like the dataset's search box
    prefix = [
        i for i, n in enumerate(names) if len(folded) >= 4 and n.casefold().startswith(folded)
    ]
    hits = exact or (prefix if len(prefix) == 1 else [])
    if not hits:
        return not_found(
            f"no weather data for {query!r}",
            close_matches=difflib.get_close_matches(query.title(), names, n=3, cutoff=0.6),
            available_cities=names,
        )
    return ok(_weather_record(hits[0], ctx))


# =======================================================================================
# BART%%Advisory information


def pacific_is_dst(day: dt.date) -> bool:
    """US daylight saving: second Sunday of March to first Sunday of November."""

    def nth_sunday(month: int, n: int) -> dt.date:
        first = dt.date(day.year, month, 1)
        return first + dt.timedelta(days=(6 - first.weekday()) % 7 + 7 * (n - 1))

    return nth_sunday(3, 2) <= day < nth_sunday(11, 1)


def _bart_advisories(ctx: SimContext) -> list[dict[str, Any]]:
    rng = ctx.entity_rng("bart-bsa", ctx.today.isoformat())
    zone = "PDT" if pacific_is_dst(ctx.today) else "PST"
    out = []
    for n in range(rng.choice((0, 1, 1, 2, 3))):
        station = rng.choice(list(BART_STATIONS))
        minutes = rng.choice((5, 10, 15, 20))
        direction = rng.choice(BART_DIRECTIONS)
        cause = rng.choice(BART_CAUSES)
        hour = rng.randint(5, 8)  # posted before the 9 AM report below
        text = (
            f"There is a {minutes}-minute delay at {BART_STATIONS[station]} in the "
            f"{direction} direction due to {cause}."
        )
        stamp = f"{ctx.today.strftime('%a %b %d %Y')} {(hour - 1) % 12 + 1:02d}:{rng.randint(0, 59):02d} {'AM' if hour < 12 else 'PM'} {zone}"
        out.append(
            {
                "@id": str(
                    stable_int(ctx.seed, "bart", ctx.today.isoformat(), n) % 900_000 + 100_000
                ),
                "station": station,
                "type": "DELAY",
                "description": {"#cdata-section": text},
                "sms_text": {
                    "#cdata-section": f"{minutes}-min delay at {station} twd {direction}: {cause}."
                },
                "posted": stamp,
                "expires": f"{ctx.today.strftime('%a %b %d %Y')} 11:59 PM {zone}",
            }
        )
    return out


@simulator("BART%%Advisory information")
def bart_advisories(args: dict[str, Any], ctx: SimContext) -> Reply:
    cmd = args["cmd"].strip().lower()
    if cmd != "bsa":
        return bad_request(
            f"parameter 'cmd': invalid command {args['cmd']!r} for the advisory API",
            parameter="cmd",
            valid_cmd=["bsa"],
        )
    orig = str(args.get("orig", "")).strip().upper()
    if orig and orig != "ALL" and orig not in BART_STATIONS:
        by_name = [a for a, n in BART_STATIONS.items() if orig.lower() in n.lower()]
        close = by_name[:3] or difflib.get_close_matches(orig, list(BART_STATIONS), n=3, cutoff=0.5)
        return bad_request(
            f"parameter 'orig': {args['orig']!r} is not a BART station abbreviation "
            "(4 characters, e.g. 'DUBL', '16TH', 'SFIA')",
            parameter="orig",
            close_matches=close,
        )
    advisories = _bart_advisories(ctx)
    if orig and orig != "ALL":
        advisories = [a for a in advisories if a["station"] == orig]
    if not advisories:
        advisories = [
            {
                "station": "",
                "description": {"#cdata-section": "No delays reported."},
                "sms_text": {"#cdata-section": "No delays reported."},
            }
        ]
    zone = "PDT" if pacific_is_dst(ctx.today) else "PST"
    query = "cmd=bsa" + (f"&orig={orig}" if orig else "")
    return ok(
        {
            "?xml": {"@version": "1.0", "@encoding": "utf-8"},
            "root": {
                "@id": "1",
                "uri": {"#cdata-section": f"http://api.bart.gov/api/bsa.aspx?{query}&json=y"},
                "date": ctx.today.strftime("%m/%d/%Y"),
                "time": f"09:00:00 AM {zone}",
                "bsa": advisories,
                "message": "",
            },
        }
    )
