"""Simulated geography services: place lookup, time zones, weather and place search.

- ``Places%%Geographic coordinates by placename`` answers like OpenTripMap's geoname method.
- ``Stadia Maps Time Zone API%%TZ Lookup by Location`` answers like Stadia's TZ lookup, with
  real UTC/DST offsets from the IANA database (``zoneinfo``).
- ``get_weather_today``, ``forecast_weather`` and ``search_places`` answer plain text the way
  the study's BMTools tools did. Weather is invented but stable: a city reads the same on a
  given day however it is asked, and values follow its latitude and the season.
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
import re
import unicodedata
from typing import Any
from zoneinfo import ZoneInfo

from ._base import Reply, SimContext, bad_request, not_found, ok, simulator
from ._geo_data import CLIMATE, COUNTRIES, PLACES, Place

__all__ = (
    "country_name",
    "day_weather",
    "distance_km",
    "find_places",
    "fold",
    "forecast_weather",
    "geoname",
    "places_in_text",
    "resolve_location",
    "search_places",
    "tz_lookup",
    "weather_today",
    "zone_offsets",
)


# --- name matching ---------------------------------------------------------------------------


def fold(text: str) -> str:
    """Lower case, accents removed, punctuation turned to spaces, spaces collapsed."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    return " ".join(re.sub(r"[^\w]+", " ", bare).split())


def _place_names(p: Place) -> tuple[str, ...]:
    return (p.name, p.name_ru, *p.aliases)


_BY_NAME: dict[str, list[Place]] = {}
for _p in PLACES:
    for _n in _place_names(_p):
        _BY_NAME.setdefault(fold(_n), []).append(_p)
for _lst in _BY_NAME.values():
    _lst.sort(key=lambda p: -p.population)  # the best-known place of a shared name first

_COUNTRY_BY_NAME: dict[str, str] = {}
for _code, _names in COUNTRIES.items():
    for _n in (*_names, _code):
        _COUNTRY_BY_NAME.setdefault(fold(_n), _code)


def country_name(code: str) -> str:
    return COUNTRIES.get(code, (code,))[0]


def find_places(name: str, country: str | None = None) -> list[Place]:
    """Places whose name (any language or alias) matches ``name``; close spellings accepted."""
    key = fold(name)
    hits = list(_BY_NAME.get(key, ()))
    if not hits:
        close = difflib.get_close_matches(key, list(_BY_NAME), n=3, cutoff=0.85)
        for c in close:
            hits.extend(p for p in _BY_NAME[c] if p not in hits)
    if country:
        hits = [p for p in hits if p.country == country]
    return hits


def _qualifier_matches(p: Place, qualifier: str) -> bool:
    q = fold(qualifier)
    if _COUNTRY_BY_NAME.get(q) == p.country:
        return True
    return q in {fold(p.admin1), fold(p.admin1_code)} - {""}


def resolve_location(text: str) -> Place | None:
    """The place named by free text such as 'Tokyo', 'Rome, IT' or 'Los Angeles, CA'."""
    text = text.strip()
    if not text:
        return None
    if hits := find_places(text):  # whole text first: "Washington, D.C." is a name
        return hits[0]
    head, _, rest = text.partition(",")
    hits = find_places(head)
    qualifiers = [q.strip() for q in rest.split(",") if q.strip()]
    for q in qualifiers:
        narrowed = [p for p in hits if _qualifier_matches(p, q)]
        if not narrowed:
            return None
        hits = narrowed
    return hits[0] if hits else None


def places_in_text(text: str) -> list[Place]:
    """Places whose name appears as whole words inside ``text``, longest names first."""
    folded = f" {fold(text)} "
    found: list[Place] = []
    for key in sorted(_BY_NAME, key=len, reverse=True):
        if len(key) > 2 and f" {key} " in folded:
            folded = folded.replace(f" {key} ", " | ")
            found.extend(p for p in _BY_NAME[key][:1] if p not in found)
    return found


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine, mean Earth radius)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(a))


def _display(p: Place) -> str:
    if p.country == "US" and p.admin1_code:
        return f"{p.name}, {p.admin1_code}, United States"
    if p.name == country_name(p.country):  # city-states: "Singapore", not "Singapore, Singapore"
        return p.name
    return f"{p.name}, {country_name(p.country)}"


def _blank(args: dict[str, Any], name: str) -> Reply | None:
    value = args.get(name)
    if isinstance(value, str) and not value.strip():
        return bad_request(f"parameter {name!r} must not be empty", parameter=name)
    return None


# --- Places (OpenTripMap geoname) ------------------------------------------------------------


@simulator("Places%%Geographic coordinates by placename")
def geoname(args: dict[str, Any], ctx: SimContext) -> Reply:
    if err := _blank(args, "name"):
        return err
    name: str = args["name"].strip()
    lang: str = args["lang"]
    if lang not in ("en", "ru"):
        return bad_request(f"parameter 'lang' must be 'en' or 'ru'; got {lang!r}", parameter="lang")
    country = None
    if raw := str(args.get("country", "")).strip():
        if not re.fullmatch(r"[A-Za-z]{2}", raw):
            return bad_request(
                f"parameter 'country' must be a two-letter ISO 3166 code such as 'FR'; got {raw!r}",
                parameter="country",
            )
        country = raw.upper()
    hits = find_places(name, country)
    if not hits:
        where = f" in country {country!r}" if country else ""
        return not_found(f"no place named {name!r} found{where}", name=name, status="NOT_FOUND")
    p = hits[0]
    return ok(
        {
            "name": p.name_ru if lang == "ru" else p.name,
            "partial_match": fold(name) not in {fold(n) for n in _place_names(p)},
            "country": p.country,
            "lat": p.lat,
            "lon": p.lon,
            "population": p.population,
            "timezone": p.timezone,
            "status": "OK",
        }
    )


# --- Stadia time zone lookup -----------------------------------------------------------------

_MAX_TZ_DISTANCE_KM = 1000.0
_MIN_TS, _MAX_TS = -2208988800, 4102444800  # 1900-01-01 .. 2100-01-01


def zone_offsets(tz_id: str, when: dt.datetime) -> tuple[int, int, bool]:
    """(base UTC offset, DST offset, zone observes DST) in seconds at instant ``when``."""
    local = when.astimezone(ZoneInfo(tz_id))
    total = int(local.utcoffset().total_seconds())  # type: ignore[union-attr]
    dst = int(local.dst().total_seconds())  # type: ignore[union-attr]
    zone = ZoneInfo(tz_id)
    year = local.year
    # a zone "uses DST" when its offset differs between January and July of that year
    jan = dt.datetime(year, 1, 15, 12, tzinfo=dt.UTC).astimezone(zone).utcoffset()
    jul = dt.datetime(year, 7, 15, 12, tzinfo=dt.UTC).astimezone(zone).utcoffset()
    return total - dst, dst, jan != jul


@simulator("Stadia Maps Time Zone API%%TZ Lookup by Location")
def tz_lookup(args: dict[str, Any], ctx: SimContext) -> Reply:
    lat, lng = float(args["lat"]), float(args["lng"])
    if not -90.0 <= lat <= 90.0:
        return bad_request(f"lat must be between -90 and 90; got {lat}", parameter="lat")
    if not -180.0 <= lng <= 180.0:
        return bad_request(f"lng must be between -180 and 180; got {lng}", parameter="lng")
    if "timestamp" in args:
        ts = float(args["timestamp"])
        if not _MIN_TS <= ts <= _MAX_TS:
            return bad_request(
                f"timestamp must be a UNIX time between {_MIN_TS} (1900) and {_MAX_TS} (2100); got {ts:g}",
                parameter="timestamp",
            )
        when = dt.datetime.fromtimestamp(ts, dt.UTC)
    else:
        when = dt.datetime.combine(ctx.today, dt.time(12), dt.UTC)
    nearest = min(PLACES, key=lambda p: distance_km(lat, lng, p.lat, p.lon))
    if distance_km(lat, lng, nearest.lat, nearest.lon) > _MAX_TZ_DISTANCE_KM:
        return not_found(
            f"no time zone for this point (lat {lat}, lng {lng}); it appears to be open ocean "
            "or outside the covered land areas",
            lat=lat,
            lng=lng,
        )
    base, dst, use_dst = zone_offsets(nearest.timezone, when)
    return ok({"tz_id": nearest.timezone, "base_utc_offset": base, "dst_offset": dst, "use_dst": use_dst})


# --- weather ---------------------------------------------------------------------------------

_CONDITIONS = (
    # (condition, weight, humidity range, rain chance range, cloud factor for UV)
    ("Sunny", 26, (30, 55), (0, 10), 1.0),
    ("Partly cloudy", 24, (40, 70), (5, 20), 0.8),
    ("Cloudy", 14, (50, 80), (10, 30), 0.55),
    ("Overcast", 9, (60, 85), (15, 40), 0.4),
    ("Mist", 4, (85, 98), (10, 25), 0.5),
    ("Light rain", 11, (70, 92), (60, 85), 0.45),
    ("Moderate rain", 6, (78, 96), (80, 95), 0.35),
    ("Thundery outbreaks", 3, (70, 92), (60, 90), 0.5),
    ("Light snow", 3, (75, 95), (60, 85), 0.5),
)
_COMPASS = ("N", "NE", "E", "SE", "S", "SW", "W", "NW")


def _climate_mean(p: Place, day: dt.date) -> tuple[float, float]:
    """(mean temperature of the day in °C, daily half-range): climate normals where known,
    otherwise a latitude model, shifted by season (opposite in the southern hemisphere)."""
    alat = abs(p.lat)
    annual = 27.0 - 0.5 * max(0.0, alat - 12.0)
    amplitude = 1.0 + 0.25 * max(0.0, alat - 10.0)
    annual, amplitude = CLIMATE.get((p.name, p.country), (annual, amplitude))
    doy = day.timetuple().tm_yday
    season = -math.cos(2 * math.pi * (doy - 15) / 365.25)  # -1 mid-January, +1 mid-July
    if p.lat < 0:
        season = -season
    return annual + amplitude * season, 3.0 + alat / 15.0


def _uv_index(p: Place, day: dt.date, cloud: float) -> int:
    doy = day.timetuple().tm_yday
    declination = 23.44 * math.sin(2 * math.pi * (284 + doy) / 365.0)
    zenith = math.radians(min(89.0, abs(p.lat - declination)))
    return max(0, round(11.0 * math.cos(zenith) ** 3 * cloud))


def day_weather(p: Place, day: dt.date, ctx: SimContext) -> dict[str, Any]:
    """The weather of place ``p`` on ``day``: the same however and whenever it is asked."""
    rng = ctx.entity_rng("weather", p.name, p.country, day.isoformat())
    mean, half = _climate_mean(p, day)
    mean += rng.uniform(-3.0, 3.0)
    names = [c for c in _CONDITIONS if not (c[0] == "Light snow" and mean > 2.0)]
    names = [c for c in names if not (c[0] == "Thundery outbreaks" and mean < 12.0)]
    cond = rng.choices(names, weights=[c[1] for c in names])[0]
    condition, _, hum, rain, cloud = cond
    if mean < 0.0 and condition in ("Light rain", "Moderate rain"):
        condition = "Light snow"
    high = mean + half * rng.uniform(0.7, 1.0)
    low = mean - half * rng.uniform(0.7, 1.0)
    now = low + (high - low) * rng.uniform(0.45, 0.9)
    wind = rng.uniform(2.0, 32.0)
    precip = 0.0
    if "rain" in condition.lower() or "snow" in condition.lower() or "Thundery" in condition:
        precip = rng.uniform(0.4, 4.0) if condition.startswith("Light") else rng.uniform(3.0, 18.0)
    return {
        "date": day,
        "condition": condition,
        "temp_c": round(now, 1),
        "high_c": round(high, 1),
        "low_c": round(low, 1),
        "feels_like_c": round(now - wind / 12.0 if now < 15 else now + rng.uniform(0.0, 2.0), 1),
        "humidity": rng.randint(*hum),
        "chance_of_rain": rng.randint(*rain),
        "precip_mm": round(precip, 1),
        "wind_kph": round(wind, 1),
        "wind_dir": rng.choice(_COMPASS),
        "uv": _uv_index(p, day, cloud),
    }


def _f(c: float) -> float:
    return round(c * 9 / 5 + 32, 1)


def _unknown_location(location: str) -> Reply:
    return not_found(
        f"No matching location found for {location!r}.",
        location=location,
        hint="give a city name, optionally followed by its country or state, e.g. 'Paris, France'",
    )


@simulator("get_weather_today")
def weather_today(args: dict[str, Any], ctx: SimContext) -> Reply:
    if err := _blank(args, "location"):
        return err
    place = resolve_location(args["location"])
    if place is None:
        return _unknown_location(args["location"])
    w = day_weather(place, ctx.today, ctx)
    return ok(
        f"Today's weather report for {_display(place)} ({ctx.today.isoformat()}): "
        f"{w['condition']}. Temperature: {w['temp_c']} °C ({_f(w['temp_c'])} °F), "
        f"feels like {w['feels_like_c']} °C; high {w['high_c']} °C, low {w['low_c']} °C. "
        f"Humidity: {w['humidity']}%. Wind: {w['wind_kph']} km/h "
        f"({round(w['wind_kph'] / 1.609344, 1)} mph) from the {w['wind_dir']}. "
        f"Precipitation: {w['precip_mm']} mm, chance of rain {w['chance_of_rain']}%. "
        f"UV index: {w['uv']}."
    )


@simulator("forecast_weather")
def forecast_weather(args: dict[str, Any], ctx: SimContext) -> Reply:
    if err := _blank(args, "location"):
        return err
    days = args["days"]
    if not 1 <= days <= 14:
        return bad_request(
            f"parameter 'days' must be an integer from 1 to 14; got {days}", parameter="days"
        )
    place = resolve_location(args["location"])
    if place is None:
        return _unknown_location(args["location"])
    lines = [f"Weather forecast for {_display(place)}, next {days} day{'s' if days > 1 else ''}:"]
    for i in range(1, days + 1):
        day = ctx.today + dt.timedelta(days=i)
        w = day_weather(place, day, ctx)
        lines.append(
            f"{day.isoformat()} ({day.strftime('%A')}): {w['condition']}, "
            f"high {w['high_c']} °C / low {w['low_c']} °C, chance of rain {w['chance_of_rain']}%, "
            f"precipitation {w['precip_mm']} mm, humidity {w['humidity']}%, "
            f"wind {w['wind_kph']} km/h {w['wind_dir']}, UV {w['uv']}"
        )
    return ok("\n".join(lines))


# --- place search ----------------------------------------------------------------------------

# keyword -> (kind, name patterns); {a} is an adjective, {n} a noun, {c} a cuisine word
_KINDS: tuple[tuple[tuple[str, ...], str, tuple[str, ...]], ...] = (
    (("hotel", "hotels", "hostel", "motel", "stay", "inn"), "Hotel",
     ("The {a} {n} Hotel", "{n} {a} Inn", "Hotel {n}", "{a} {n} Suites", "The {n} House")),
    (("bakery", "bakeries", "boulangerie", "pastry", "patisserie"), "Bakery",
     ("{a} Crust Bakery", "Boulangerie {n}", "{n} Bread Co.", "The Rolling Pin", "{a} Oven")),
    (("coffee", "cafe", "cafes", "café", "espresso"), "Cafe",
     ("{a} Bean Coffee", "Cafe {n}", "{n} Roasters", "The Daily Grind", "{a} Cup")),
    (("museum", "museums", "gallery", "galleries", "exhibition"), "Museum",
     ("{n} Museum of Art", "Museum of {n} History", "The {a} Gallery", "{n} Science Center",
      "{a} Heritage Museum")),
    (("park", "parks", "garden", "gardens", "trail", "trails", "hiking"), "Park",
     ("{n} Park", "{a} Hills Park", "{n} Botanical Garden", "{a} Creek Trailhead",
      "{n} Playground and Commons")),
    (("bar", "bars", "pub", "pubs", "brewery", "nightlife"), "Bar",
     ("The {a} Tap", "{n} Brewing Company", "The {n} Arms", "{a} Lounge")),
    (("restaurant", "restaurants", "food", "eat", "dinner", "lunch", "sushi", "pizza", "diner",
      "bistro", "vegan", "vegetarian", "seafood"), "Restaurant",
     ("{a} {c} Kitchen", "{n} {c} House", "The {a} Table", "{c} Garden {n}", "{n} Bistro")),
)
_CUISINES = {
    "indian": "Indian", "thai": "Thai", "sushi": "Sushi", "japanese": "Japanese",
    "vegan": "Vegan", "vegetarian": "Vegetarian", "seafood": "Seafood", "italian": "Italian",
    "mexican": "Mexican", "chinese": "Chinese", "french": "French", "pizza": "Pizza",
    "korean": "Korean", "greek": "Greek", "vietnamese": "Vietnamese",
}
_ADJECTIVES = ("Golden", "Blue", "Silver", "Harbor", "Maple", "Sunset", "Olive", "Cedar",
               "Copper", "Little", "Grand", "Old Town", "Riverside", "Green", "Royal")
_NOUNS = ("Lantern", "Willow", "Meridian", "Orchard", "Compass", "Juniper", "Beacon", "Atlas",
          "Sparrow", "Linden", "Fountain", "Magnolia", "Harbor", "Summit", "Garnet")
_STREETS = ("Main St", "Park Ave", "Market St", "Oak St", "Elm St", "River Rd", "Broadway",
            "Church St", "Station Rd", "High St", "Pine St", "Lake Ave", "Mill Lane", "Bay St")
_FEATURES = {
    "outdoor seating": "outdoor seating", "patio": "outdoor seating", "beach": "near the beach",
    "playground": "playground", "picnic": "picnic areas", "basketball": "basketball courts",
    "guided tour": "guided tours", "hiking": "hiking trails", "trail": "hiking trails",
    "wifi": "free Wi-Fi", "pool": "swimming pool", "affordable": "budget friendly",
}


def _kind_of(words: set[str], folded: str) -> tuple[str, tuple[str, ...]]:
    for keys, kind, patterns in _KINDS:
        if words & set(keys) or any(" " in k and k in folded for k in keys):
            return kind, patterns
    return "Point of interest", ("{n} Square", "{a} Market Hall", "{n} Tower", "{a} Pier")


@simulator("search_places")
def search_places(args: dict[str, Any], ctx: SimContext) -> Reply:
    if err := _blank(args, "query"):
        return err
    query: str = args["query"]
    folded = fold(query)
    cities = places_in_text(query)
    if not cities:
        return ok(
            f"No places matched {query!r}. Include a city in the query, "
            "for example 'coffee shops in Paris'."
        )
    city = cities[0]
    words = set(folded.split())
    kind, patterns = _kind_of(words, folded)
    cuisine = next((v for k, v in _CUISINES.items() if k in words), "")
    features = sorted({v for k, v in _FEATURES.items() if k in folded})
    rng = ctx.entity_rng("search_places", folded)  # same query, same venues
    count = rng.randint(4, 6)
    names: list[str] = []
    while len(names) < count:
        name = rng.choice(patterns).format(
            a=rng.choice(_ADJECTIVES), n=rng.choice(_NOUNS), c=cuisine or rng.choice(("Grill", "Cafe"))
        )
        if name not in names:
            names.append(name)
    region = city.admin1_code if city.country == "US" and city.admin1_code else country_name(city.country)
    blocks = [f"Places matching {query!r} near {_display(city)}:"]
    for i, name in enumerate(names, 1):
        rating = round(rng.uniform(3.9, 4.9), 1)
        reviews = rng.randint(40, 4800)
        lat = city.lat + rng.uniform(-0.06, 0.06)
        lon = city.lon + rng.uniform(-0.06, 0.06)
        lines = [
            f"{i}. {name}",
            f"Type: {kind}{f' ({cuisine})' if cuisine and kind == 'Restaurant' else ''}",
            f"Address: {rng.randint(2, 2400)} {rng.choice(_STREETS)}, {city.name}, {region}",
            f"Rating: {rating} ({reviews:,} reviews)",
        ]
        if kind in ("Hotel", "Restaurant", "Bar", "Cafe", "Bakery"):
            lines.append(f"Price level: {'$' * rng.randint(1, 4)}")
        if features:
            lines.append(f"Features: {', '.join(features)}")
        lines.append(f"Location: {lat:.5f}, {lon:.5f}")
        blocks.append("\n".join(lines))
    return ok("\n\n".join(blocks))
