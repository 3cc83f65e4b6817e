"""Simulated sports data APIs: Broadage handball match lists and soccer tournaments, recent
Formula 1 headlines, and Football Dolphin Premier League head-to-head statistics.

Handball fixtures are seeded per date (the same day reads the same from both endpoints);
head-to-head histories are seeded per unordered pair of clubs and every statistic is computed
from that match history, so A-vs-B and B-vs-A are exact mirrors.
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
import random
import re
from collections import Counter
from typing import Any

from . import _sports_data as data
from ._base import Reply, SimContext, bad_request, ok, simulator, stable_int

__all__ = (
    "dolphin_h2h",
    "f1_news",
    "h2h_statistics",
    "handball_live",
    "handball_scheduled",
    "soccer_tournaments",
)

# ---------------------------------------------------------------------------------------
# Handball (Broadage)

_WINDOW_DAYS = 7
_LIVE_SPAN = 95  # wall-clock minutes a match is on: halves, 15' break, time-outs
_TEAM_IDS = {
    name: 5000 + i
    for i, name in enumerate(sorted({c for _, _, _, clubs in data.HANDBALL_LEAGUES for c in clubs}))
}
_STATUS = {
    "ns": {"id": 1, "name": "Not Started", "shortName": "NS"},
    "h1": {"id": 2, "name": "1st Half", "shortName": "1H"},
    "ht": {"id": 3, "name": "Half Time", "shortName": "HT"},
    "h2": {"id": 4, "name": "2nd Half", "shortName": "2H"},
    "ended": {"id": 5, "name": "Ended", "shortName": "FT"},
}


def _handball_date(args: dict[str, Any], ctx: SimContext) -> dt.date | Reply:
    raw = args["date"].strip()
    try:
        day = dt.datetime.strptime(raw, "%d/%m/%Y").date()
    except ValueError:
        return bad_request(
            f"parameter 'date' must be written dd/MM/yyyy (e.g. 28/01/2021); got {raw!r}",
            parameter="date",
        )
    if abs((day - ctx.today).days) > _WINDOW_DAYS:
        lo = (ctx.today - dt.timedelta(days=_WINDOW_DAYS)).strftime("%d/%m/%Y")
        hi = (ctx.today + dt.timedelta(days=_WINDOW_DAYS)).strftime("%d/%m/%Y")
        return bad_request(
            f"match lists are only available for today ± {_WINDOW_DAYS} days "
            f"({lo} to {hi}); got {raw}",
            parameter="date",
        )
    return day


def _handball_day(day: dt.date, ctx: SimContext) -> list[dict[str, Any]]:
    """Every handball match of ``day``, with statuses as seen on ``ctx.today``."""
    rng = ctx.entity_rng("handball-day", day.isoformat())
    # the server's "now" on today's date: the early evening, when most matches are on
    now = ctx.entity_rng("handball-now", ctx.today.isoformat()).randint(18 * 60, 20 * 60 + 30)
    used: set[str] = set()
    matches: list[dict[str, Any]] = []
    for tid, league, country, clubs in rng.sample(data.HANDBALL_LEAGUES, rng.randint(2, 4)):
        free = [c for c in clubs if c not in used]
        rng.shuffle(free)
        for i in range(min(rng.randint(1, 3), len(free) // 2)):
            home, away = free[2 * i], free[2 * i + 1]
            used.update((home, away))
            kickoff = rng.choice((16 * 60, 17 * 60, 18 * 60, 18 * 60 + 45, 19 * 60, 20 * 60 + 45))
            matches.append(
                {
                    "tid": tid,
                    "league": league,
                    "country": country,
                    "home": home,
                    "away": away,
                    "kickoff": kickoff,
                    "round": rng.randint(20, 30) if tid != 1 else None,
                    "final": (rng.randint(24, 38), rng.randint(23, 36)),
                    "half_share": rng.uniform(0.42, 0.56),
                }
            )
    matches.sort(key=lambda m: (m["kickoff"], m["tid"], m["home"]))
    if (
        day == ctx.today
        and matches
        and not any(0 <= now - m["kickoff"] < _LIVE_SPAN for m in matches)
    ):
        # a matchday always has something on when the live feed is asked
        matches[0]["kickoff"] = now - 35
    return [_handball_match(day, m, now, ctx) for m in matches]


def _handball_match(day: dt.date, m: dict[str, Any], now: int, ctx: SimContext) -> dict[str, Any]:
    fh, fa = m["final"]
    h1h, h1a = round(fh * m["half_share"]), round(fa * m["half_share"])
    if day < ctx.today:
        state, minute = "ended", None
    elif day > ctx.today:
        state, minute = "ns", None
    else:
        elapsed = now - m["kickoff"]  # wall-clock minutes since throw-off, incl. a 15' break
        if elapsed < 0:
            state, minute = "ns", None
        elif elapsed < 30:
            state, minute = "h1", elapsed + 1
        elif elapsed < 45:
            state, minute = "ht", 30
        elif elapsed < _LIVE_SPAN:
            state, minute = "h2", min(60, elapsed - 14)
        else:
            state, minute = "ended", None
    kick = f"{day.strftime('%d/%m/%Y')} {m['kickoff'] // 60:02d}:{m['kickoff'] % 60:02d}:00"
    match: dict[str, Any] = {
        "id": 3_000_000 + stable_int("handball", day.isoformat(), m["home"]) % 900_000,
        "date": kick,
        "status": _STATUS[state],
        "tournament": {"id": m["tid"], "name": m["league"], "country": m["country"]},
        "stage": {"name": "Regular Season" if m["tid"] != 1 else "Knockout Stage"},
        "round": m["round"],
        "homeTeam": {"id": _TEAM_IDS[m["home"]], "name": m["home"]},
        "awayTeam": {"id": _TEAM_IDS[m["away"]], "name": m["away"]},
    }
    if state == "ended":
        match["homeScore"] = {"current": fh, "period1": h1h, "regular": fh}
        match["awayScore"] = {"current": fa, "period1": h1a, "regular": fa}
    elif state != "ns":
        assert minute is not None  # every state but "ns" and "ended" has one
        # goals so far, scaled from the seeded final score
        for side, final, half in (("homeScore", fh, h1h), ("awayScore", fa, h1a)):
            if minute <= 30:
                now_score = round(half * minute / 30)
                match[side] = {"current": now_score, "period1": now_score}
            else:
                now_score = half + round((final - half) * (minute - 30) / 30)
                match[side] = {"current": now_score, "period1": half}
        match["liveTime"] = {"minute": minute, "period": _STATUS[state]["name"]}
    return match


@simulator("Handball Data%%Daily Match List-Scheduled")
def handball_scheduled(args: dict[str, Any], ctx: SimContext) -> Reply:
    day = _handball_date(args, ctx)
    if isinstance(day, Reply):
        return day
    return ok(_handball_day(day, ctx))


@simulator("Handball Data%%Daily Match List-Live")
def handball_live(args: dict[str, Any], ctx: SimContext) -> Reply:
    day = _handball_date(args, ctx)
    if isinstance(day, Reply):
        return day
    # only matches in progress: nothing is live on another day than today
    return ok([m for m in _handball_day(day, ctx) if "liveTime" in m])


# ---------------------------------------------------------------------------------------
# Soccer Data (Broadage)


def _season(fmt: str, today: dt.date) -> str:
    if fmt == "calendar":
        return str(today.year)
    start = today.year if today.month >= 7 else today.year - 1
    return f"{start}/{start + 1}"


@simulator("Soccer Data%%Tournament List")
def soccer_tournaments(args: dict[str, Any], ctx: SimContext) -> Reply:
    return ok(
        [
            {
                "id": tid,
                "name": name,
                "country": {"name": country},
                "season": {"name": _season(fmt, ctx.today)},
                "teamCount": teams,
            }
            for tid, name, country, fmt, teams in data.SOCCER_TOURNAMENTS
        ]
    )


# ---------------------------------------------------------------------------------------
# F1 Latest News

_F1_TEMPLATES: tuple[str, ...] = (
    "{d1} tops first practice ahead of the {next}",
    "{t1} bring a new floor and sidepod package to the {next}",
    "{d1} upbeat before the {next}: 'we have the pace to fight'",
    "Five things we learned at the {last}",
    "{winner} takes victory at the {last} after a tense finish",
    "{d2} hit with a three-place grid drop for the {next}",
    "{t1} confirm {d1} will stay with the team in 2025",
    "Driver market: {d2} linked with a move to {t2}",
    "Power rankings: who impressed most at the {last}?",
    "{t1} vs {t2}: the midfield fight is heating up",
    "Predictions for the {next}: can anyone stop {winner}?",
    "Stewards review contact between {d1} and {d2} at the {last}",
    "Tyre strategy explained: what to expect at the {next}",
    "{d2} frustrated after a difficult {last}",
    "Rookie focus: how {rookie} is settling into life at {rookie_team}",
    "Team radio highlights from the {last}",
    "{d1} on the pressure of racing at home and the {next}",
    "Technical analysis: why {t2} struggled for straight-line speed",
)


def _races(today: dt.date) -> tuple[str, str]:
    """(last Grand Prix held on or before today, next one after today), by day of year."""
    key = (today.month, today.day)
    past = [r for r in data.F1_CALENDAR if (r[0], r[1]) <= key]
    upcoming = [r for r in data.F1_CALENDAR if (r[0], r[1]) > key]
    last = (past or data.F1_CALENDAR)[-1][2]
    nxt = (upcoming or data.F1_CALENDAR)[0][2]
    return last, nxt


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


@simulator("F1 Latest News%%GET recent F1 news from all sources")
def f1_news(args: dict[str, Any], ctx: SimContext) -> Reply:
    rng = ctx.entity_rng("f1-news", ctx.today.isoformat())
    last, nxt = _races(ctx.today)
    winner = rng.choice(data.F1_DRIVERS[:8])[0]
    teams = sorted({t for _, t in data.F1_DRIVERS})
    rookie, rookie_team = rng.choice((("Oscar Piastri", "McLaren"), ("Logan Sargeant", "Williams")))
    sources = list(data.F1_SOURCES)
    articles = []
    for i, template in enumerate(rng.sample(_F1_TEMPLATES, 15)):
        (d1, t1), (d2, _) = rng.sample(data.F1_DRIVERS, 2)
        t2 = rng.choice([t for t in teams if t != t1])
        title = template.format(
            d1=d1,
            d2=d2,
            t1=t1,
            t2=t2,
            last=last,
            next=nxt,
            winner=winner,
            rookie=rookie,
            rookie_team=rookie_team,
        )
        source = sources[i % len(sources)] if i < len(sources) else rng.choice(sources)
        url = data.F1_SOURCES[source][1].format(
            slug=_slug(title), n=rng.randint(1_000_000, 9_999_999)
        )
        published = dt.datetime.combine(ctx.today, dt.time(23, 0)) - dt.timedelta(
            minutes=rng.randint(0, 48 * 60)
        )
        articles.append(
            {
                "title": title,
                "url": url,
                "source": source,
                "published": published.strftime("%Y-%m-%dT%H:%M:00Z"),
            }
        )
    articles.sort(key=lambda a: a["published"], reverse=True)
    return ok(articles)


# ---------------------------------------------------------------------------------------
# Football Dolphin: head-to-head statistics

_SEASONS = tuple(f"{y}/{(y + 1) % 100:02d}" for y in range(1995, 2023))
_TEAM_BY_NORM = {re.sub(r"[^a-z0-9]", "", t.lower()): t for t in data.DOLPHIN_TEAMS}


def _dolphin_team(args: dict[str, Any], param: str) -> str | Reply:
    raw = args[param].strip()
    if not raw:
        return bad_request(f"parameter {param!r} is empty; give a club name", parameter=param)
    team = _TEAM_BY_NORM.get(re.sub(r"[^a-z0-9]", "", raw.lower()))
    if team is not None:
        return team
    close = difflib.get_close_matches(raw, data.DOLPHIN_TEAMS, n=3, cutoff=0.45)
    words = raw.lower().split()
    close += [
        t
        for t in data.DOLPHIN_TEAMS
        if t not in close and any(w[:4] in t.lower() for w in words if len(w) >= 4)
    ][: max(0, 3 - len(close))]
    return bad_request(
        f"parameter {param!r}: unknown team {raw!r}",
        parameter=param,
        close_matches=close,
        hint="use the club names as the API spells them, e.g. 'Man City', 'Nott'm Forest'",
    )


def _poisson(rng: random.Random, lam: float) -> int:
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _h2h_history(a: str, b: str, seed: int) -> list[dict[str, Any]]:
    """Every league meeting of the pair: seeded by the unordered pair alone."""
    x, y = sorted((a, b))
    rng = random.Random(stable_int(seed, "dolphin-h2h", x, y))
    if x in data.DOLPHIN_EVER_PRESENT and y in data.DOLPHIN_EVER_PRESENT:
        seasons = list(_SEASONS)
    else:
        seasons = sorted(rng.sample(_SEASONS, rng.randint(1, 16)))
    games = []
    for season in seasons:
        for home, away in ((x, y), (y, x)):
            gh, ga = _poisson(rng, 1.55), _poisson(rng, 1.15)
            hh = sum(rng.random() < 0.45 for _ in range(gh))
            ha = sum(rng.random() < 0.45 for _ in range(ga))
            games.append(
                {"season": season, "home": home, "away": away, "ht": (hh, ha), "ft": (gh, ga)}
            )
    return games


def _outcome(goals_for: int, goals_against: int) -> str:
    return "1" if goals_for > goals_against else "2" if goals_for < goals_against else "X"


def h2h_statistics(first: str, second: str, kind: str, seed: int) -> dict[str, Any]:
    """The statistic ``kind`` from ``first``'s point of view (public for tests)."""
    games = _h2h_history(first, second, seed)

    def persp(g: dict[str, Any], key: str) -> tuple[int, int]:
        h, a = g[key]
        return (h, a) if g["home"] == first else (a, h)

    body: dict[str, Any] = {
        "first_team": first,
        "second_team": second,
        "type_of_statistics": kind,
        "seasons": f"{games[0]['season']} to {games[-1]['season']}",
        "matches_played": len(games),
    }
    if kind == "full time result":
        c = Counter(_outcome(*persp(g, "ft")) for g in games)
        body.update(first_team_wins=c["1"], draws=c["X"], second_team_wins=c["2"])
    elif kind == "home vs away full time result":
        home = [g for g in games if g["home"] == first]
        c = Counter(_outcome(*g["ft"]) for g in home)
        body.update(
            matches_played=len(home),
            first_team_home_wins=c["1"],
            draws=c["X"],
            second_team_away_wins=c["2"],
        )
    elif kind == "result first half and the match":
        c = Counter(f"{_outcome(*persp(g, 'ht'))}/{_outcome(*persp(g, 'ft'))}" for g in games)
        body["legend"] = {"1": first, "X": "draw", "2": second, "format": "half time/full time"}
        body["results"] = {f"{h}/{f}": c[f"{h}/{f}"] for h in "1X2" for f in "1X2"}
    elif kind == "exact number of goals in the match":
        goals = Counter(min(sum(g["ft"]), 6) for g in games)
        body["goals"] = {("6+" if n == 6 else str(n)): goals[n] for n in range(7)}
    else:  # goals over / goals under
        word = kind.split()[1]
        totals = [sum(g["ft"]) for g in games]
        body[f"goals_{word}"] = {
            f"{word} {line}": sum((t > line) if word == "over" else (t < line) for t in totals)
            for line in (0.5, 1.5, 2.5, 3.5, 4.5, 5.5)
        }
    body["last_meetings"] = [
        {
            "season": g["season"],
            "home": g["home"],
            "away": g["away"],
            "half_time": f"{g['ht'][0]}-{g['ht'][1]}",
            "full_time": f"{g['ft'][0]}-{g['ft'][1]}",
        }
        for g in games[-4:]
    ]
    return body


@simulator("Football Dolphin%%Head to head statistics")
def dolphin_h2h(args: dict[str, Any], ctx: SimContext) -> Reply:
    first = _dolphin_team(args, "first_team")
    if isinstance(first, Reply):
        return first
    second = _dolphin_team(args, "second_team")
    if isinstance(second, Reply):
        return second
    if first == second:
        return bad_request(
            f"first_team and second_team are both {first!r}; pick two different clubs",
            parameter="second_team",
        )
    return ok(h2h_statistics(first, second, args["type_of_statistics"], ctx.seed))
