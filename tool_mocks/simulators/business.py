"""Simulated business, travel and utility APIs of the STE study.

Melissa Global Email verification (a real syntax check, then Melissa-style result codes),
echo/receipt endpoints (PTL, Grup Terbuka), an English dialogue store, Brightcove-style signed
upload URLs and CatchLoc group management. The catalog-like APIs live in :mod:`.catalogs`;
their helpers are re-exported here.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
from typing import Any

from ._base import Reply, SimContext, bad_request, ok, simulator, stable_int
from ._business_data import (
    DEFAULT_USER,
    DIALOGUES,
    DISPOSABLE,
    EMAIL_OPTS,
    FREE_PROVIDERS,
    REPLY_BANK,
    RESERVED,
    ROLE_MAILBOXES,
    TLD_NAMES,
)
from .catalogs import (  # noqa: F401  (re-exported: tests import them from here)
    aqi_category,
    dew_point,
    match_industries,
    pacific_is_dst,
    promo_price,
)

__all__ = (
    "brightcove_upload_urls",
    "catchloc_group_modify",
    "email_syntax_ok",
    "english_talking",
    "global_email",
    "kirim_pesan",
    "ptl_update",
)

# =======================================================================================
# Helpers


def _nonempty(args: dict[str, Any], name: str) -> str | Reply:
    value = str(args.get(name, "")).strip()
    if not value:
        return bad_request(f"parameter {name!r} is empty; a value is required", parameter=name)
    return value


# =======================================================================================
# Global Email V4 (Melissa)

_LOCAL_RE = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_LABEL_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


def email_syntax_ok(email: str) -> bool:
    """RFC 5321/5322 dot-atom syntax check (no quoted local parts, no IP literals)."""
    if len(email) > 254 or email.count("@") != 1:
        return False
    local, domain = email.split("@")
    if not local or len(local) > 64 or not _LOCAL_RE.match(local):
        return False
    labels = domain.split(".")
    if len(labels) < 2 or not all(_LABEL_RE.match(label) for label in labels):
        return False
    return labels[-1].isalpha() and len(labels[-1]) >= 2


def _melissa_record(email: str, opt: str, ctx: SimContext) -> dict[str, Any]:
    record: dict[str, Any] = {
        "RecordID": "1",
        "DeliverabilityConfidenceScore": "0",
        "Results": "",
        "EmailAddress": email,
        "MailboxName": "",
        "DomainName": "",
        "TopLevelDomain": "",
        "TopLevelDomainName": "",
        "DateChecked": f"{ctx.today.month}/{ctx.today.day}/{ctx.today.year} 12:00:00 AM",
        "EmailAgeEstimated": "0",
        "DomainAgeEstimated": "0",
        "DomainCreatedDate": "",
        "DomainExpirationDate": "",
        "DomainOrganization": "",
        "DomainCountry": "",
        "DomainCountryCode": "",
        "DomainAvailability": "",
        "DomainPrivateProxy": "",
        "PrivacyFlag": "N",
        "MXServer": "",
        "DomainTypeIndicator": "",
        "BreachCount": "",
    }
    if not email_syntax_ok(email):
        record["Results"] = "EE01"  # syntax error: nothing else is looked up
        return record
    local, domain = email.split("@")
    domain = domain.lower()
    tld = domain.rsplit(".", 1)[1]
    record.update(
        EmailAddress=f"{local}@{domain}",
        MailboxName=local,
        DomainName=domain.rsplit(".", 1)[0],
        TopLevelDomain=tld,
        TopLevelDomainName=TLD_NAMES.get(tld, ""),
    )
    if tld not in TLD_NAMES:
        record["Results"] = "EE02"  # domain does not exist
        record["DomainAvailability"] = "AVAILABLE"
        return record
    rng = ctx.entity_rng("melissa-domain", domain)
    if domain in RESERVED:
        created = dt.date(1995, 8, 14)
    else:
        # the big free providers registered their domains in the 1990s
        age = rng.randint(8800, 10500) if domain in FREE_PROVIDERS else rng.randint(400, 9500)
        created = ctx.today - dt.timedelta(days=age)
    record.update(
        DomainAgeEstimated=str((ctx.today - created).days),
        DomainCreatedDate=created.strftime("%Y-%m-%dT00:00:00"),
        # registrations renew yearly on the creation anniversary (28th at most: no Feb 29)
        DomainExpirationDate=dt.date(
            ctx.today.year + 1, created.month, min(created.day, 28)
        ).strftime("%Y-%m-%dT00:00:00"),
        DomainAvailability="UNAVAILABLE",
        DomainCountry="United States"
        if tld in ("com", "org", "net", "edu", "gov", "us")
        else TLD_NAMES[tld],
        DomainCountryCode="US" if tld in ("com", "org", "net", "edu", "gov", "us") else tld.upper(),
    )
    if domain in RESERVED:
        record.update(
            Results="EE03",  # the domain publishes a null MX: no mail server
            DomainOrganization="Internet Assigned Numbers Authority",
            DomainTypeIndicator="Business",
        )
        return record
    free = domain in FREE_PROVIDERS
    record.update(
        DomainOrganization=FREE_PROVIDERS.get(domain)
        or f"{domain.rsplit('.', 1)[0].replace('-', ' ').title()} Inc.",
        DomainPrivateProxy="Y" if rng.random() < 0.2 and not free else "N",
        MXServer=f"mx{rng.randint(1, 2)}.{domain}" if not free else f"mx.{domain}",
        DomainTypeIndicator="Personal" if free else "Business",
    )
    box = ctx.entity_rng("melissa-mailbox", email.lower())
    codes: list[str] = []
    if domain in DISPOSABLE:
        codes, score = ["ES01", "ES05"], 20
    else:
        draw = box.random()
        if draw < 0.1:
            codes, score = ["EE04"], box.randint(0, 10)  # mailbox does not exist
        elif draw < 0.3 and not free:
            codes, score = ["ES07"], box.randint(40, 70)  # server accepts every address
        elif draw < 0.45 and opt == "VerifyMailbox:Express":
            codes, score = ["ES03"], box.randint(30, 50)  # unknown: express skips the deep check
        else:
            codes, score = ["ES01"], box.randint(85, 100)
    if local.lower() in ROLE_MAILBOXES and codes[0] != "EE04":
        codes.append("ES08")
        score = max(0, score - 10)
    if opt != "VerifyMailbox:Express" and codes[0] in ("ES01", "ES07"):
        codes.append("ES21")  # premium: verified against the live mailbox
    record.update(
        Results=",".join(codes),
        DeliverabilityConfidenceScore=str(score),
        EmailAgeEstimated=str(box.randint(30, (ctx.today - created).days))
        if codes[0] != "EE04"
        else "0",
        BreachCount=str(box.choice((0, 0, 0, 1, 2, 5))) if codes[0] != "EE04" else "",
    )
    return record


def _to_xml(body: dict[str, Any]) -> str:
    def esc(v: object) -> str:
        return str(v).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    rec = "".join(f"<{k}>{esc(v)}</{k}>" for k, v in body["Records"][0].items())
    head = "".join(f"<{k}>{esc(v)}</{k}>" for k, v in body.items() if k != "Records")
    return f'<?xml version="1.0" encoding="utf-8"?><Response>{head}<Records><Record>{rec}</Record></Records></Response>'


@simulator("Global Email V4%%Global Email V4")
def global_email(args: dict[str, Any], ctx: SimContext) -> Reply:
    opt_raw = args["opt"].strip()
    if "|" in opt_raw:
        return bad_request(
            f"parameter 'opt' takes one option, got {opt_raw!r}; pick one of them",
            parameter="opt",
            valid_options=list(EMAIL_OPTS),
        )
    opt = next((o for o in EMAIL_OPTS if o.lower() == opt_raw.lower()), None)
    if opt is None:
        return bad_request(
            f"parameter 'opt': unknown option {opt_raw!r}",
            parameter="opt",
            valid_options=list(EMAIL_OPTS),
        )
    email = args["email"].strip()
    if not email:
        return bad_request(
            "parameter 'email' is empty; give the address to verify", parameter="email"
        )
    fmt = str(args.get("format", "json")).strip().lower() or "json"
    if fmt not in ("json", "xml"):
        return bad_request(
            f"parameter 'format' must be json or xml; got {args['format']!r}", parameter="format"
        )
    body = {
        "Version": "7.4.1.4215",
        "TransmissionReference": "",
        "TransmissionResults": "",
        "TotalRecords": "1",
        "Records": [_melissa_record(email, opt, ctx)],
    }
    return ok(_to_xml(body) if fmt == "xml" else body)


# =======================================================================================
# PTL%%update

_PTL_MAX = 255


@simulator("PTL%%update")
def ptl_update(args: dict[str, Any], ctx: SimContext) -> Reply:
    fields = {k: args[k] for k in ("info1", "info2", "info3")}
    for key, value in fields.items():
        if len(value) > _PTL_MAX:
            return bad_request(
                f"parameter {key!r} is {len(value)} characters long; at most {_PTL_MAX} allowed",
                parameter=key,
            )
    changed = [k for k, v in fields.items() if v.strip()]
    return ok(
        {
            "status": "success",
            "message": "profile updated" if changed else "nothing to update: all fields were empty",
            "record_id": stable_int(ctx.seed, "ptl", fields["info1"]) % 90_000 + 10_000,
            "updated_fields": changed,
            "unchanged_fields": [k for k in fields if k not in changed],
            "data": fields,
            "updated_at": f"{ctx.today.isoformat()}T10:00:00Z",
        }
    )


# =======================================================================================
# English Talking%%Get an answer

_OBJECT_ID_RE = re.compile(r"^[0-9a-f]{24}$")


def _fold(text: str) -> str:
    return re.sub(r"[^a-z0-9 ]", "", text.lower()).strip()


def _intent(speech: str) -> str:
    s = _fold(speech)
    words = set(s.split())
    if words & {"hi", "hello", "hey"} or s.startswith("good morning"):
        return "greeting"
    if words & {"thanks", "thank"}:
        return "thanks"
    if words & {"bye", "goodbye"} or s.startswith("see you"):
        return "farewell"
    if speech.strip().endswith("?") or (s.split() or [""])[0] in {
        "what",
        "how",
        "why",
        "where",
        "who",
        "when",
        "can",
        "do",
        "is",
        "are",
    }:
        return "question"
    return "statement"


def _dialogue(row: tuple[str, str, str, str, str, str]) -> dict[str, Any]:
    oid, speech, answer, status, user, created = row
    return {
        "_id": oid,
        "speech": speech,
        "answer": answer,
        "status": status,
        "user": user,
        "createdAt": created,
        "updatedAt": created,
        "__v": 0,
    }


@simulator("English Talking%%Get an answer")
def english_talking(args: dict[str, Any], ctx: SimContext) -> Reply:
    status = args.get("status")
    if status is not None and status not in ("approved", "analyzing"):
        return bad_request(
            f"parameter 'status' must be 'approved' or 'analyzing'; got {status!r}",
            parameter="status",
        )
    for key in ("_id", "user"):
        if key in args and not _OBJECT_ID_RE.match(args[key]):
            return bad_request(
                f"parameter {key!r} must be a 24-character hexadecimal id; got {args[key]!r}",
                parameter=key,
            )
    rows = [_dialogue(r) for r in DIALOGUES]
    if "_id" in args:
        rows = [r for r in rows if r["_id"] == args["_id"]]
        if not rows:
            return Reply(404, {"code": 404, "message": f"no dialogue with _id {args['_id']}"})
    speech = args.get("speech")
    if speech is not None:
        if not speech.strip():
            return bad_request(
                "parameter 'speech' is empty; say something to get an answer", parameter="speech"
            )
        matched = [r for r in rows if _fold(r["speech"]) == _fold(speech)]
        if not matched and "_id" not in args:
            # a new speech: the service drafts an answer that waits for the users' review
            rng = ctx.entity_rng("english-talking", _fold(speech))
            oid = f"{stable_int(ctx.seed, 'english-talking', _fold(speech)):016x}"[:16]
            matched = [
                {
                    "_id": f"5ec4{oid}0000",
                    "speech": speech.strip(),
                    "answer": rng.choice(REPLY_BANK[_intent(speech)]),
                    "status": "analyzing",
                    "user": args.get("user", DEFAULT_USER),
                    "createdAt": f"{ctx.today.isoformat()}T12:00:00.000Z",
                    "updatedAt": f"{ctx.today.isoformat()}T12:00:00.000Z",
                    "__v": 0,
                }
            ]
        rows = matched
    for key in ("status", "user"):
        if key in args:
            rows = [r for r in rows if r[key] == args[key]]
    if "answer" in args:
        rows = [r for r in rows if _fold(args["answer"]) in _fold(r["answer"])]
    return ok({"code": 200, "entity": rows})


# =======================================================================================
# Grup Terbuka%%Kirim Pesan

_KEY_RE = re.compile(r"^[A-Za-z0-9_-]{6,64}$")
_PESAN_MAX = 1000


@simulator("Grup Terbuka%%Kirim Pesan")
def kirim_pesan(args: dict[str, Any], ctx: SimContext) -> Reply:
    key = args["key"].strip()
    if not key:
        return Reply(
            401,
            {
                "status": False,
                "error": "key kosong: parameter 'key' wajib diisi (API key is required)",
            },
        )
    if not _KEY_RE.match(key):
        return Reply(
            403,
            {
                "status": False,
                "error": f"key tidak valid: {key!r} (invalid key: 6-64 letters, digits, '_' or '-')",
            },
        )
    pesan = args["pesan"]
    if not pesan.strip():
        return bad_request(
            "pesan kosong: parameter 'pesan' tidak boleh kosong (message must not be empty)",
            parameter="pesan",
        )
    if len(pesan) > _PESAN_MAX:
        return bad_request(
            f"pesan terlalu panjang: {len(pesan)} karakter, maksimal {_PESAN_MAX} (message too long)",
            parameter="pesan",
        )
    rng = ctx.rng()
    return ok(
        {
            "status": True,
            "message": "pesan terkirim (message sent)",
            "data": {
                "id": rng.randint(10_000, 99_999),
                "pesan": pesan,
                "grup": "Grup Terbuka",
                "pengirim": f"user_{stable_int(ctx.seed, 'grup-key', key) % 9000 + 1000}",
                "waktu": f"{ctx.today.isoformat()} {rng.randint(7, 22):02d}:{rng.randint(0, 59):02d}:00",
            },
        }
    )


# =======================================================================================
# Fake Brightcove%%Temp Upload URLs


@simulator("Fake Brightcove%%Temp Upload URLs")
def brightcove_upload_urls(args: dict[str, Any], ctx: SimContext) -> Reply:
    values: dict[str, str] = {}
    for name in ("source_name", "video_id", "account_id"):
        value = _nonempty(args, name)
        if isinstance(value, Reply):
            return value
        values[name] = value
    for name in ("video_id", "account_id"):
        if not values[name].isdigit():
            return bad_request(
                f"parameter {name!r} must be a numeric Brightcove id; got {values[name]!r}",
                parameter=name,
            )
    source = values["source_name"]
    if "/" in source or "\\" in source or len(source) > 255:
        return bad_request(
            f"parameter 'source_name' must be a file name without slashes (at most 255 characters); got {source!r}",
            parameter="source_name",
        )
    rng = ctx.rng()
    token = f"{rng.getrandbits(128):032x}"
    bucket = "ingestion-upload-production"
    key = f"{values['account_id']}/{values['video_id']}/{token[:8]}-{token[8:12]}-{token[12:16]}-{token[16:20]}-{token[20:]}/{source}"
    access_key = "ASIA" + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16))
    expires = int(dt.datetime.combine(ctx.today, dt.time(0), tzinfo=dt.UTC).timestamp()) + 86_400
    digest = hashlib.blake2b(f"{ctx.seed}|{key}|{expires}".encode(), digest_size=20).digest()
    signature = (
        base64.b64encode(digest)
        .decode()
        .replace("+", "%2B")
        .replace("/", "%2F")
        .replace("=", "%3D")
    )
    api_request_url = f"https://{bucket}.s3.amazonaws.com/{key}"
    return ok(
        {
            "bucket": bucket,
            "object_key": key,
            "access_key_id": access_key,
            "secret_access_key": base64.b64encode(rng.randbytes(30)).decode(),
            "session_token": base64.b64encode(rng.randbytes(96)).decode(),
            "signed_url": f"{api_request_url}?AWSAccessKeyId={access_key}&Expires={expires}&Signature={signature}",
            "api_request_url": api_request_url,
        }
    )


# =======================================================================================
# CatchLoc group management
#
# CatchLoc answers HTTP 200 with a result code in the body for authentication and data
# problems; only a request for an unknown API method is rejected outright (400).

_CATCHLOC_API = "api.common.group.set.modify"
_CATCHLOC_KEY_RE = re.compile(r"^[A-Za-z0-9-]{16,64}$")


def _catchloc_fail(code: str, message: str) -> Reply:
    return ok({"result": "fail", "error_code": code, "error_msg": message})


@simulator("CatchLoc%%[Group Management] API access for modifying group information")
def catchloc_group_modify(args: dict[str, Any], ctx: SimContext) -> Reply:
    api = args["api"].strip()
    if api != _CATCHLOC_API:
        return bad_request(
            f"parameter 'api' must be {_CATCHLOC_API!r} for this endpoint; got {api!r}",
            parameter="api",
            result="fail",
            error_code="E100",
        )
    for name, code in (("api_key", "E101"), ("cert_key", "E102")):
        value = args[name].strip()
        if not value:
            return _catchloc_fail(code, f"{name} is empty: authentication failed")
        if not _CATCHLOC_KEY_RE.match(value):
            return _catchloc_fail(
                code,
                f"{name} {value!r} is not a valid key (16-64 letters, digits or '-'): authentication failed",
            )
    stamp = args["timestamp"].strip()
    if not re.fullmatch(r"\d{10}|\d{13}", stamp):
        return _catchloc_fail(
            "E103",
            f"timestamp must be Unix epoch time in seconds (10 digits) or milliseconds (13 digits); got {stamp!r}",
        )
    group_key = args["group_key"].strip()
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", group_key):
        return _catchloc_fail("E201", f"group_key {group_key!r} does not identify a group")
    group_name = args["group_name"].strip()
    if not group_name:
        return _catchloc_fail("E202", "group_name is empty: give the new name of the group")
    if len(group_name) > 50:
        return _catchloc_fail(
            "E203", f"group_name is {len(group_name)} characters long; at most 50"
        )
    seconds = int(stamp) // 1000 if len(stamp) == 13 else int(stamp)
    rng = ctx.entity_rng("catchloc-group", group_key)
    return ok(
        {
            "result": "success",
            "error_code": "0000",
            "data": {
                "group_key": group_key,
                "group_name": group_name,
                "previous_group_name": rng.choice(
                    ("Delivery vans", "Field team A", "Seoul office", "Trackers 2F")
                ),
                "member_count": rng.randint(1, 40),
                "modified_at": dt.datetime.fromtimestamp(seconds, dt.UTC).strftime(
                    "%Y-%m-%d %H:%M:%S"
                ),
            },
        }
    )
