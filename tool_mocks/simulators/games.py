"""Simulated games and cartoon APIs: JAK_API fan data, GamerPower giveaways, Marvel vs.
Capcom 2 characters and MikuAPI images.

The JAK_API documents and the MvC2 roster are fixed reference tables (``_games_data``); the
GamerPower catalogue is seeded per day so end dates stay in the future of ``ctx.today``;
MikuAPI draws one image record per call.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from typing import Any

from . import _games_data as data
from ._base import Reply, SimContext, bad_request, not_found, ok, simulator

__all__ = (
    "ben10",
    "brawl_stars",
    "filter_giveaways",
    "genshin",
    "live_giveaways_by_type",
    "miku_random_image",
    "miraculous",
    "mvc2_all",
    "mvc2_show",
)


# ---------------------------------------------------------------------------------------
# JAK_API: static fan documents


@simulator("JAK_API%%Ben 10")
def ben10(args: dict[str, Any], ctx: SimContext) -> Reply:
    return ok(data.BEN10)


@simulator("JAK_API%%Brawl Stars")
def brawl_stars(args: dict[str, Any], ctx: SimContext) -> Reply:
    doc = dict(data.BRAWL_STARS)
    doc["brawlers"] = [
        {
            "name": name,
            "rarity": rarity,
            "class": cls,
            "star_powers": star_powers,
            "gadgets": gadgets,
            "image": f"https://jak-api.example.net/images/brawlstars/{_slug(name)}.png",
        }
        for name, rarity, cls, star_powers, gadgets in data.BRAWL_STARS["brawlers"]
    ]
    return ok(doc)


@simulator("JAK_API%%Miraculous")
def miraculous(args: dict[str, Any], ctx: SimContext) -> Reply:
    doc = dict(data.MIRACULOUS)
    doc["holders"] = [
        {
            "civilian_name": civ,
            "hero_name": hero,
            "kwami": kwami,
            "miraculous": jewel,
            "power": power,
            "colors": colors,
            "kwami_image": f"https://jak-api.example.net/images/miraculous/{_slug(kwami)}.png",
            "hero_image": f"https://jak-api.example.net/images/miraculous/{_slug(hero)}.png",
        }
        for civ, hero, kwami, jewel, power, colors in data.MIRACULOUS["holders"]
    ]
    return ok(doc)


@simulator("JAK_API%%Genshin Impact")
def genshin(args: dict[str, Any], ctx: SimContext) -> Reply:
    doc = {k: v for k, v in data.GENSHIN.items() if k != "venti_constellations"}
    gems = {r["element"]: r["gem"] for r in data.GENSHIN["regions"]}
    characters = []
    for name, stars, element, weapon, region, constellation, specialty, talents in data.GENSHIN[
        "characters"
    ]:
        entry: dict[str, Any] = {
            "name": name,
            "rarity": stars,
            "vision": element,
            "weapon": weapon,
            "region": region,
            "constellation": constellation,
            "talents": {
                "normal_attack": talents[0],
                "elemental_skill": talents[1],
                "elemental_burst": talents[2],
            },
            "ascension_materials": {"gem": gems[element], "local_specialty": specialty},
        }
        if name == "Venti":
            entry["constellation_levels"] = data.GENSHIN["venti_constellations"]
        characters.append(entry)
    doc["characters"] = characters
    return ok(doc)


# ---------------------------------------------------------------------------------------
# GamerPower

_GIVEAWAY_TYPES = {"game": "Game", "loot": "DLC", "beta": "Early Access"}
# names people try for the platform slugs, mapped to the real slug for the error hint
_PLATFORM_HINTS = {
    "playstation-4": "ps4",
    "playstation4": "ps4",
    "playstation": "ps4",
    "playstation-5": "ps5",
    "playstation5": "ps5",
    "xbox-series-x": "xbox-series-xs",
    "xbox-series-s": "xbox-series-xs",
    "xbox": "xbox-one",
    "nintendo-switch": "switch",
    "nintendo-switch-lite": "switch",
    "epic": "epic-games-store",
    "epic-games": "epic-games-store",
    "windows": "pc",
    "itch.io": "itchio",
    "battle.net": "battlenet",
    "uplay": "ubisoft",
}
_NO_GIVEAWAYS = {
    "status": 0,
    "status_message": "No active giveaways available at the moment, please try again later.",
}


def _giveaway_catalogue(ctx: SimContext) -> list[dict[str, Any]]:
    """About 40 live giveaways, the same for every call on the same day and seed."""
    rng = ctx.entity_rng("gamerpower-catalogue", ctx.today.isoformat())
    ids = rng.sample(range(1800, 3200), 40)
    rows = (
        [(t, "game", w, p) for t, w, p in data.GIVEAWAY_GAMES]
        + [(t, "loot", w, p) for t, w, p in data.GIVEAWAY_LOOT]
        + [(t, "beta", w, p) for t, w, p in data.GIVEAWAY_BETAS]
    )
    out = []
    for gid, (title, kind, worth, platforms) in zip(ids, rows, strict=True):
        published = dt.datetime.combine(ctx.today, dt.time(0)) - dt.timedelta(
            days=rng.randint(0, 20), minutes=rng.randint(0, 1439)
        )
        # a few giveaways run "while supplies last" and have no end date
        end = (
            "N/A"
            if rng.random() < 0.15
            else f"{(ctx.today + dt.timedelta(days=rng.randint(1, 21))).isoformat()} 23:59:00"
        )
        slug = _slug(title)
        label = "Key Giveaway" if kind != "game" else "Giveaway"
        out.append(
            {
                "id": gid,
                "title": f"{title} ({', '.join(data.PLATFORM_NAMES[p] for p in platforms[:2])}) {label}",
                "worth": "N/A" if worth is None else f"${worth:.2f}",
                "thumbnail": f"https://www.gamerpower.com/offers/1/{gid}.jpg",
                "description": _giveaway_blurb(kind, title),
                "instructions": "1. Click the button to open the giveaway page.\n"
                "2. Log in or create an account.\n3. Claim the offer before it ends.",
                "open_giveaway_url": f"https://www.gamerpower.com/open/{slug}",
                "published_date": published.strftime("%Y-%m-%d %H:%M:%S"),
                "type": _GIVEAWAY_TYPES[kind],
                "platforms": ", ".join(data.PLATFORM_NAMES[p] for p in platforms),
                "end_date": end,
                "users": rng.randint(150, 95000),
                "status": "Active",
                "gamerpower_url": f"https://www.gamerpower.com/{slug}",
                "_kind": kind,
                "_slugs": platforms,
            }
        )
    out.sort(key=lambda g: str(g["published_date"]), reverse=True)
    return out


def _giveaway_blurb(kind: str, title: str) -> str:
    if kind == "game":
        return f"Grab {title} for free and keep it forever once claimed."
    if kind == "loot":
        return f"Claim a free in-game bonus: {title}. One code per account while keys last."
    return f"Get early access to {title.split(' ')[0]} before launch and help test it."


def _public(g: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in g.items() if not k.startswith("_")}


def _parse_types(raw: str, param: str) -> list[str] | Reply:
    wanted = [t.strip().lower() for t in raw.split(".")]
    for t in wanted:
        if t not in _GIVEAWAY_TYPES:
            hint = (
                " (DLC, in-game items, keys and currency are all listed under 'loot')"
                if t in ("dlc", "item", "items", "key", "keys", "currency", "skin", "event")
                else ""
            )
            return bad_request(
                f"parameter {param!r}: unknown giveaway type {t!r}{hint}",
                parameter=param,
                valid_types=list(_GIVEAWAY_TYPES),
            )
    return wanted


@simulator("GamerPower%%Live giveaways by type")
def live_giveaways_by_type(args: dict[str, Any], ctx: SimContext) -> Reply:
    raw = args["type"].strip().lower()
    if raw not in _GIVEAWAY_TYPES:
        parsed = _parse_types(raw, "type")
        if isinstance(parsed, Reply):
            return parsed
        # "game.loot" style lists belong to the filter endpoint
        return bad_request(
            f"parameter 'type' takes one type, got {args['type']!r}; combine types with the "
            "Filter & Group Giveaways endpoint",
            parameter="type",
            valid_types=list(_GIVEAWAY_TYPES),
        )
    found = [_public(g) for g in _giveaway_catalogue(ctx) if g["_kind"] == raw]
    return ok(found or _NO_GIVEAWAYS)


@simulator("GamerPower%%Filter & Group Giveaways")
def filter_giveaways(args: dict[str, Any], ctx: SimContext) -> Reply:
    raw = args["platform"].strip()
    if not raw:
        return bad_request(
            "parameter 'platform' is empty; give one or more platform slugs joined by '.'",
            parameter="platform",
            valid_platforms=list(data.PLATFORM_NAMES),
        )
    platforms = [p.strip().lower() for p in raw.split(".")]
    for p in platforms:
        if p not in data.PLATFORM_NAMES:
            suggestion = _PLATFORM_HINTS.get(p) or next(
                iter(difflib.get_close_matches(p, list(data.PLATFORM_NAMES), n=1, cutoff=0.6)),
                None,
            )
            hint = f"; did you mean {suggestion!r}?" if suggestion else ""
            return bad_request(
                f"parameter 'platform': unknown platform {p!r}{hint}",
                parameter="platform",
                valid_platforms=list(data.PLATFORM_NAMES),
            )
    kinds: list[str] = list(_GIVEAWAY_TYPES)
    if "type" in args and args["type"].strip():
        parsed = _parse_types(args["type"], "type")
        if isinstance(parsed, Reply):
            return parsed
        kinds = parsed
    found = [
        _public(g)
        for g in _giveaway_catalogue(ctx)
        if g["_kind"] in kinds and any(p in g["_slugs"] for p in platforms)
    ]
    return ok(found or _NO_GIVEAWAYS)


# ---------------------------------------------------------------------------------------
# Marvel vs. Capcom 2


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _character(row: tuple[str, str, str, str, str, tuple[str, ...]]) -> dict[str, Any]:
    name, universe, origin, style, tier, _aliases = row
    return {
        "name": name,
        "universe": universe,
        "origin": origin,
        "style": style,
        "tier": tier,
        "playable": tier != "unplayable boss",
        "headshot": f"https://mvc2.example.net/headshots/{_slug(name)}.png",
    }


_MVC2_INDEX: dict[str, tuple[str, str, str, str, str, tuple[str, ...]]] = {}
for _row in data.MVC2_ROSTER:
    for _alias in (_row[0], *_row[5]):
        _MVC2_INDEX[_norm(_alias)] = _row


@simulator("Marvel Vs Capcom 2%%All Characters")
def mvc2_all(args: dict[str, Any], ctx: SimContext) -> Reply:
    return ok([_character(r) for r in data.MVC2_ROSTER])


@simulator("Marvel Vs Capcom 2%%Show Character")
def mvc2_show(args: dict[str, Any], ctx: SimContext) -> Reply:
    name = args["name"].strip()
    if not name:
        return bad_request("parameter 'name' is empty; give a character name such as 'Cable'")
    row = _MVC2_INDEX.get(_norm(name))
    if row is None:
        names = [r[0] for r in data.MVC2_ROSTER]
        close = (
            difflib.get_close_matches(name, names, n=3, cutoff=0.5)
            or [n for n in names if _norm(name)[:3] and _norm(n).startswith(_norm(name)[:3])][:3]
        )
        return not_found(
            f"no character named {name!r} in the Marvel vs. Capcom 2 roster",
            suggestions=close,
        )
    return ok(_character(row))


# ---------------------------------------------------------------------------------------
# MikuAPI


@simulator("MikuAPI%%getRandomImage")
def miku_random_image(args: dict[str, Any], ctx: SimContext) -> Reply:
    rng = ctx.rng()
    image_id = rng.randint(100, 2400)
    ext = rng.choice(("png", "jpg"))
    artist = rng.choice(data.MIKU_ARTISTS)
    width, height = rng.choice(((1920, 1080), (1080, 1920), (2048, 2048), (1200, 1600)))
    return ok(
        {
            "id": image_id,
            "url": f"https://miku-api.example.net/images/{image_id}.{ext}",
            "filename": f"{image_id}.{ext}",
            "title": rng.choice(data.MIKU_TITLES),
            "artist": {"name": artist, "url": f"https://art.example.net/users/{artist}"},
            "source": f"https://art.example.net/artworks/{rng.randint(60_000_000, 119_999_999)}",
            "width": width,
            "height": height,
            "tags": [
                "hatsune miku",
                "vocaloid",
                *rng.sample(["twintails", "leek", "stage", "chibi", "winter", "concert"], 2),
            ],
        }
    )
