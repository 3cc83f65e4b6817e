"""Simulated business, travel and utility APIs of the STE study.

Melissa Global Email verification (a real syntax check, then Melissa-style result codes), a
Django weather dataset, echo/receipt endpoints (PTL, Grup Terbuka), an English dialogue
store, reference lists (site languages and Taiwan industry codes, French real-estate portals,
car makes, Thai travel facts, a pizzeria's promotions), Brightcove-style signed upload URLs,
CatchLoc group management and BART service advisories.
"""

from __future__ import annotations

import base64
import datetime as dt
import difflib
import hashlib
import math
import re
from typing import Any

from ._base import Reply, SimContext, bad_request, not_found, ok, simulator, stable_int

__all__ = ()

# =======================================================================================
# Data tables

# Top-level domains known to the email checker: tld -> name Melissa reports.
_TLD_NAMES = {
    "com": "Commercial",
    "org": "Organization",
    "net": "Network",
    "edu": "Education",
    "gov": "Government",
    "info": "Information",
    "biz": "Business",
    "io": "British Indian Ocean Territory",
    "co": "Colombia",
    "us": "United States",
    "uk": "United Kingdom",
    "de": "Germany",
    "fr": "France",
    "es": "Spain",
    "it": "Italy",
    "nl": "Netherlands",
    "mx": "Mexico",
    "br": "Brazil",
    "jp": "Japan",
    "cn": "China",
    "in": "India",
    "au": "Australia",
    "ca": "Canada",
    "ru": "Russian Federation",
    "ch": "Switzerland",
    "se": "Sweden",
    "kr": "Korea",
    "tw": "Taiwan",
    "id": "Indonesia",
    "eu": "European Union",
    "me": "Montenegro",
    "tv": "Tuvalu",
    "ai": "Anguilla",
    "app": "Application",
    "dev": "Developer",
    "xyz": "Generic",
}
# Free mailbox providers: domain -> organisation.
_FREE_PROVIDERS = {
    "gmail.com": "Google LLC",
    "googlemail.com": "Google LLC",
    "yahoo.com": "Yahoo Inc.",
    "outlook.com": "Microsoft Corporation",
    "hotmail.com": "Microsoft Corporation",
    "live.com": "Microsoft Corporation",
    "aol.com": "Yahoo Inc.",
    "icloud.com": "Apple Inc.",
    "protonmail.com": "Proton AG",
    "proton.me": "Proton AG",
    "gmx.de": "GMX GmbH",
    "yandex.ru": "Yandex LLC",
    "mail.ru": "VK",
    "qq.com": "Tencent",
    "163.com": "NetEase",
}
_DISPOSABLE = frozenset(
    {"mailinator.com", "10minutemail.com", "guerrillamail.com", "yopmail.com", "trashmail.com"}
)
# RFC 2606 reserved names publish a null MX, so no mailbox can exist there.
_RESERVED = frozenset({"example.com", "example.org", "example.net", "example.edu"})
_ROLE_MAILBOXES = frozenset(
    {
        "info",
        "support",
        "contact",
        "sales",
        "admin",
        "marketing",
        "help",
        "office",
        "billing",
        "customer.service",
        "customer.support",
        "customerservice",
        "noreply",
        "no-reply",
        "webmaster",
        "postmaster",
        "hr",
        "team",
        "hello",
        "enquiries",
    }
)
_EMAIL_OPTS = ("VerifyMailbox:Express", "VerifyMailbox:ExpressPremium")

# Weather dataset: (city, country, lat, lon, annual mean C, seasonal swing C, southern
# hemisphere, typical relative humidity %, typical US AQI)
_WEATHER_CITIES: tuple[tuple[str, str, float, float, float, float, bool, int, int], ...] = (
    ("London", "United Kingdom", 51.5074, -0.1278, 11.5, 7.0, False, 76, 38),
    ("Paris", "France", 48.8566, 2.3522, 12.5, 8.0, False, 72, 45),
    ("Berlin", "Germany", 52.5200, 13.4050, 10.0, 9.5, False, 72, 40),
    ("Madrid", "Spain", 40.4168, -3.7038, 15.0, 10.0, False, 57, 48),
    ("Barcelona", "Spain", 41.3874, 2.1686, 16.5, 7.0, False, 68, 52),
    ("Rome", "Italy", 41.9028, 12.4964, 16.0, 8.5, False, 70, 50),
    ("Moscow", "Russia", 55.7558, 37.6173, 6.0, 13.5, False, 77, 55),
    ("Istanbul", "Turkey", 41.0082, 28.9784, 15.0, 9.0, False, 73, 62),
    ("Cairo", "Egypt", 30.0444, 31.2357, 22.5, 7.0, False, 55, 120),
    ("Dubai", "United Arab Emirates", 25.2048, 55.2708, 28.0, 7.5, False, 60, 95),
    ("Mumbai", "India", 19.0760, 72.8777, 27.5, 2.0, False, 75, 110),
    ("Delhi", "India", 28.6139, 77.2090, 25.0, 8.5, False, 58, 170),
    ("Bangkok", "Thailand", 13.7563, 100.5018, 28.5, 1.5, False, 74, 85),
    ("Singapore", "Singapore", 1.3521, 103.8198, 27.5, 0.8, False, 82, 50),
    ("Shanghai", "China", 31.2304, 121.4737, 17.0, 11.5, False, 74, 90),
    ("Beijing", "China", 39.9042, 116.4074, 13.0, 15.0, False, 55, 115),
    ("Seoul", "South Korea", 37.5665, 126.9780, 12.5, 14.0, False, 64, 75),
    ("Tokyo", "Japan", 35.6762, 139.6503, 16.0, 10.5, False, 65, 48),
    ("Sydney", "Australia", -33.8688, 151.2093, 18.5, 4.5, True, 65, 30),
    ("Cape Town", "South Africa", -33.9249, 18.4241, 17.0, 4.0, True, 72, 35),
    ("Buenos Aires", "Argentina", -34.6037, -58.3816, 18.0, 6.0, True, 72, 42),
    ("São Paulo", "Brazil", -23.5505, -46.6333, 19.5, 3.0, True, 78, 65),
    ("Mexico City", "Mexico", 19.4326, -99.1332, 17.0, 2.5, False, 55, 95),
    ("New York", "United States", 40.7128, -74.0060, 13.0, 12.0, False, 63, 45),
    ("Los Angeles", "United States", 34.0522, -118.2437, 18.5, 4.5, False, 65, 70),
    ("Toronto", "Canada", 43.6532, -79.3832, 9.0, 13.0, False, 70, 35),
)
# US EPA AQI bands: (upper bound, category)
_AQI_BANDS = (
    (50, "Good"),
    (100, "Moderate"),
    (150, "Unhealthy for Sensitive Groups"),
    (200, "Unhealthy"),
    (300, "Very Unhealthy"),
    (500, "Hazardous"),
)

# English Talking: the stored dialogues (ids are MongoDB ObjectIds).
_DEFAULT_USER = "5ec479048958430d6a6d5895"
_DIALOGUES: tuple[tuple[str, str, str, str, str, str], ...] = (
    # (_id, speech, answer, status, user, createdAt)
    (
        "5ec47b3d8958430d6a6d5898",
        "Hi",
        "Hi, how are you?",
        "approved",
        _DEFAULT_USER,
        "2020-05-20T00:37:49.540Z",
    ),
    (
        "5ec47b6a8958430d6a6d5899",
        "How are you?",
        "I'm fine, thanks. And you?",
        "approved",
        _DEFAULT_USER,
        "2020-05-20T00:38:34.112Z",
    ),
    (
        "5ec47c018958430d6a6d589a",
        "What's your name?",
        "My name is Alex. Nice to meet you!",
        "approved",
        "5ec47a128958430d6a6d5896",
        "2020-05-20T00:41:05.871Z",
    ),
    (
        "5ec47c558958430d6a6d589b",
        "Where are you from?",
        "I'm from Brazil, but I live in Canada now.",
        "approved",
        "5ec47a128958430d6a6d5896",
        "2020-05-20T00:42:29.004Z",
    ),
    (
        "5ec47d1e8958430d6a6d589c",
        "What do you do for a living?",
        "I work as a software developer.",
        "approved",
        _DEFAULT_USER,
        "2020-05-20T00:45:50.333Z",
    ),
    (
        "5ec47e098958430d6a6d589d",
        "Do you like music?",
        "Yes, I love rock and jazz. What about you?",
        "analyzing",
        "5ec47a7f8958430d6a6d5897",
        "2020-05-20T00:49:45.610Z",
    ),
    (
        "5ec47e8a8958430d6a6d589e",
        "What time is it?",
        "It's half past three.",
        "analyzing",
        "5ec47a7f8958430d6a6d5897",
        "2020-05-20T00:51:54.228Z",
    ),
    (
        "5ec47f0c8958430d6a6d589f",
        "Thank you!",
        "You're welcome!",
        "approved",
        _DEFAULT_USER,
        "2020-05-20T00:54:04.917Z",
    ),
    (
        "5ec47f638958430d6a6d58a0",
        "See you later",
        "Bye! Have a nice day.",
        "approved",
        "5ec47a128958430d6a6d5896",
        "2020-05-20T00:55:31.450Z",
    ),
    (
        "5ec47fd28958430d6a6d58a1",
        "Can you help me?",
        "Sure, what do you need?",
        "analyzing",
        _DEFAULT_USER,
        "2020-05-20T00:57:22.068Z",
    ),
)
_REPLY_BANK = {
    "greeting": (
        "Hello! Nice to talk to you.",
        "Hi there! How is your day going?",
        "Hey! How have you been?",
    ),
    "thanks": ("You're welcome!", "No problem at all.", "Glad I could help."),
    "farewell": ("Goodbye! Talk to you soon.", "See you! Take care.", "Bye, have a great day!"),
    "question": (
        "That's a good question. Let me think about it.",
        "I'm not sure, but I'd like to find out.",
        "Good question! What do you think?",
    ),
    "statement": (
        "I see. Tell me more about that.",
        "Really? That sounds interesting.",
        "I understand how you feel.",
    ),
}

# siteDomain: system languages and the two-digit industry divisions of Taiwan's Standard
# Industrial Classification.
_SITE_LANGUAGES = (
    ("zh-TW", "繁體中文", "Traditional Chinese"),
    ("zh-CN", "简体中文", "Simplified Chinese"),
    ("en-US", "English", "English"),
    ("ja-JP", "日本語", "Japanese"),
    ("ko-KR", "한국어", "Korean"),
    ("vi-VN", "Tiếng Việt", "Vietnamese"),
    ("th-TH", "ไทย", "Thai"),
    ("id-ID", "Bahasa Indonesia", "Indonesian"),
    ("ms-MY", "Bahasa Melayu", "Malay"),
    ("es-ES", "Español", "Spanish"),
    ("fr-FR", "Français", "French"),
    ("de-DE", "Deutsch", "German"),
    ("pt-BR", "Português", "Portuguese"),
    ("it-IT", "Italiano", "Italian"),
    ("ru-RU", "Русский", "Russian"),
    ("ar-SA", "العربية", "Arabic"),
    ("hi-IN", "हिन्दी", "Hindi"),
)
# (code, Chinese name, English name, keywords)
_INDUSTRIES: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("01", "農、牧業", "Crop and animal production", ("farm", "agri", "crop")),
    ("02", "林業", "Forestry", ("forest", "timber")),
    ("03", "漁業", "Fishing and aquaculture", ("fish", "seafood")),
    ("08", "食品及飼品製造業", "Manufacture of food and feed", ("food", "recipe", "snack")),
    ("09", "飲料製造業", "Manufacture of beverages", ("beverage", "drink", "wine", "coffee")),
    ("11", "紡織業", "Manufacture of textiles", ("textile", "fabric")),
    (
        "12",
        "成衣及服飾品製造業",
        "Manufacture of wearing apparel and accessories",
        ("fashion", "apparel", "clothing", "wear"),
    ),
    (
        "20",
        "藥品及醫用化學製品製造業",
        "Manufacture of pharmaceuticals and medicinal chemicals",
        ("pharma", "drug", "medicine"),
    ),
    (
        "19",
        "其他化學製品製造業",
        "Manufacture of other chemical products",
        ("cosmetic", "makeup", "beauty", "chemical"),
    ),
    (
        "26",
        "電子零組件製造業",
        "Manufacture of electronic parts and components",
        ("semiconductor", "chip", "electronic"),
    ),
    (
        "27",
        "電腦、電子產品及光學製品製造業",
        "Manufacture of computers, electronic and optical products",
        ("computer", "laptop", "camera", "tech"),
    ),
    (
        "30",
        "汽車及其零件製造業",
        "Manufacture of motor vehicles and parts",
        ("cars", "automotive", "vehicle"),
    ),
    ("32", "家具製造業", "Manufacture of furniture", ("furniture", "sofa", "interior")),
    (
        "35",
        "電力及燃氣供應業",
        "Electricity and gas supply",
        ("energy", "power", "solar", "electric"),
    ),
    ("41", "建築工程業", "Construction of buildings", ("construction", "building")),
    ("45", "批發業", "Wholesale trade", ("wholesale", "trading")),
    ("47", "零售業", "Retail trade", ("retail", "shop", "store", "ecommerce")),
    ("49", "陸上運輸業", "Land transport", ("transport", "bus", "taxi", "logistic")),
    ("51", "航空運輸業", "Air transport", ("airline", "flight", "aviation")),
    ("55", "住宿服務業", "Accommodation", ("hotel", "hostel", "resort", "travel")),
    ("56", "餐飲業", "Food and beverage service", ("restaurant", "cafe", "catering", "recipe")),
    ("58", "出版業", "Publishing", ("publish", "book", "magazine", "blog", "news")),
    (
        "59",
        "影片服務、聲音錄製及音樂出版業",
        "Film, sound recording and music publishing",
        ("film", "movie", "music", "festival"),
    ),
    (
        "60",
        "傳播及節目播送業",
        "Broadcasting and programming",
        ("broadcast", "tv", "radio", "news"),
    ),
    ("61", "電信業", "Telecommunications", ("telecom", "mobile", "network")),
    (
        "62",
        "電腦程式設計、諮詢及相關服務業",
        "Computer programming and consultancy",
        ("software", "programming", "tech", "developer"),
    ),
    (
        "63",
        "資訊服務業",
        "Information service activities",
        ("portal", "search", "data", "insight", "blog", "network"),
    ),
    ("64", "金融中介業", "Financial intermediation", ("bank", "financ", "loan")),
    ("65", "保險業", "Insurance", ("insurance",)),
    (
        "66",
        "證券期貨及其他金融業",
        "Securities, futures and other financial activities",
        ("stock", "invest", "financ", "crypto"),
    ),
    (
        "68",
        "不動產經營及相關服務業",
        "Real estate activities",
        ("realestate", "property", "housing"),
    ),
    ("69", "法律及會計服務業", "Legal and accounting activities", ("law", "legal", "account")),
    (
        "73",
        "廣告業及市場研究業",
        "Advertising and market research",
        ("advert", "marketing", "influencer", "blogger"),
    ),
    ("74", "專門設計業", "Specialised design activities", ("design", "graphic")),
    ("79", "旅行及相關服務業", "Travel agency and related activities", ("travel", "tour", "trip")),
    ("85", "教育業", "Education", ("school", "education", "university", "course", "tips")),
    (
        "86",
        "醫療保健業",
        "Human health activities",
        ("health", "medical", "clinic", "hospital", "living"),
    ),
    (
        "90",
        "創作及藝術表演業",
        "Creative and performing arts",
        ("artist", "gallery", "theatre", "concert", "music"),
    ),
    (
        "93",
        "運動、娛樂及休閒服務業",
        "Sports, amusement and recreation",
        ("sport", "recreation", "fitness", "game", "festival"),
    ),
    (
        "96",
        "未分類其他服務業",
        "Other personal service activities",
        ("lifestyle", "wedding", "pets", "salon"),
    ),
)

# Fluximmo: the French real-estate portals whose listings the feed aggregates.
_PORTALS: tuple[tuple[str, str, str, str], ...] = (
    # (key, name, url, kind)
    ("leboncoin", "leboncoin", "https://www.leboncoin.fr", "petites annonces généralistes"),
    (
        "pap",
        "PAP (De Particulier à Particulier)",
        "https://www.pap.fr",
        "particulier à particulier",
    ),
    ("seloger", "SeLoger", "https://www.seloger.com", "portail immobilier"),
    ("logicimmo", "Logic-Immo", "https://www.logic-immo.com", "portail immobilier"),
    ("bienici", "Bien'ici", "https://www.bienici.com", "portail immobilier"),
    ("explorimmo", "Explorimmo", "https://www.explorimmo.com", "portail immobilier"),
    (
        "meilleursagents",
        "MeilleursAgents",
        "https://www.meilleursagents.com",
        "estimation et annonces",
    ),
    ("figaroimmo", "Figaro Immobilier", "https://immobilier.lefigaro.fr", "portail immobilier"),
    (
        "ouestfranceimmo",
        "Ouest-France Immo",
        "https://www.ouestfrance-immo.com",
        "portail régional",
    ),
    ("paruvendu", "ParuVendu", "https://www.paruvendu.fr", "petites annonces généralistes"),
    ("avendrealouer", "AVendreALouer", "https://www.avendrealouer.fr", "portail immobilier"),
    ("superimmo", "Superimmo", "https://www.superimmo.com", "agrégateur"),
    ("greenacres", "Green-Acres", "https://www.green-acres.fr", "portail international"),
    (
        "entreparticuliers",
        "Entreparticuliers",
        "https://www.entreparticuliers.com",
        "particulier à particulier",
    ),
    ("immonot", "Immonot", "https://www.immonot.com", "annonces de notaires"),
    (
        "notaires",
        "Immobilier.notaires.fr",
        "https://www.immobilier.notaires.fr",
        "annonces de notaires",
    ),
    (
        "bellesdemeures",
        "Belles Demeures",
        "https://www.bellesdemeures.com",
        "immobilier de prestige",
    ),
    ("luxresidence", "Lux-Residence", "https://www.lux-residence.com", "immobilier de prestige"),
    ("century21", "Century 21", "https://www.century21.fr", "réseau d'agences"),
    ("orpi", "Orpi", "https://www.orpi.com", "réseau d'agences"),
    ("laforet", "Laforêt", "https://www.laforet.com", "réseau d'agences"),
    ("guyhoquet", "Guy Hoquet", "https://www.guy-hoquet.com", "réseau d'agences"),
    ("era", "ERA Immobilier", "https://www.erafrance.com", "réseau d'agences"),
    ("foncia", "Foncia", "https://fr.foncia.com", "administration de biens"),
    ("nexity", "Nexity", "https://www.nexity.fr", "promoteur et agences"),
    ("iad", "iad France", "https://www.iadfrance.fr", "réseau de mandataires"),
    ("safti", "SAFTI", "https://www.safti.fr", "réseau de mandataires"),
    ("capifrance", "Capifrance", "https://www.capifrance.fr", "réseau de mandataires"),
)

_CAR_MAKES: tuple[str, ...] = (
    "Abarth",
    "Acura",
    "Alfa Romeo",
    "Aston Martin",
    "Audi",
    "Bentley",
    "BMW",
    "Bugatti",
    "Buick",
    "BYD",
    "Cadillac",
    "Chevrolet",
    "Chrysler",
    "Citroën",
    "Cupra",
    "Dacia",
    "Daewoo",
    "Daihatsu",
    "Dodge",
    "DS",
    "Ferrari",
    "Fiat",
    "Fisker",
    "Ford",
    "Genesis",
    "GMC",
    "Great Wall",
    "Holden",
    "Honda",
    "Hummer",
    "Hyundai",
    "Infiniti",
    "Isuzu",
    "Jaguar",
    "Jeep",
    "Kia",
    "Koenigsegg",
    "Lada",
    "Lamborghini",
    "Lancia",
    "Land Rover",
    "Lexus",
    "Lincoln",
    "Lotus",
    "Lucid",
    "Maserati",
    "Maybach",
    "Mazda",
    "McLaren",
    "Mercedes-Benz",
    "Mercury",
    "MG",
    "Mini",
    "Mitsubishi",
    "Nissan",
    "Oldsmobile",
    "Opel",
    "Pagani",
    "Peugeot",
    "Plymouth",
    "Polestar",
    "Pontiac",
    "Porsche",
    "Ram",
    "Renault",
    "Rivian",
    "Rolls-Royce",
    "Saab",
    "Saturn",
    "Scion",
    "SEAT",
    "Škoda",
    "Smart",
    "SsangYong",
    "Subaru",
    "Suzuki",
    "Tata",
    "Tesla",
    "Toyota",
    "Vauxhall",
    "Volkswagen",
    "Volvo",
)

# BART: the 50 stations, by their four-letter abbreviations.
_BART_STATIONS = {
    "12TH": "12th St. Oakland City Center",
    "16TH": "16th St. Mission",
    "19TH": "19th St. Oakland",
    "24TH": "24th St. Mission",
    "ANTC": "Antioch",
    "ASHB": "Ashby",
    "BALB": "Balboa Park",
    "BAYF": "Bay Fair",
    "BERY": "Berryessa/North San José",
    "CAST": "Castro Valley",
    "CIVC": "Civic Center/UN Plaza",
    "COLS": "Coliseum",
    "COLM": "Colma",
    "CONC": "Concord",
    "DALY": "Daly City",
    "DBRK": "Downtown Berkeley",
    "DUBL": "Dublin/Pleasanton",
    "DELN": "El Cerrito del Norte",
    "PLZA": "El Cerrito Plaza",
    "EMBR": "Embarcadero",
    "FRMT": "Fremont",
    "FTVL": "Fruitvale",
    "GLEN": "Glen Park",
    "HAYW": "Hayward",
    "LAFY": "Lafayette",
    "LAKE": "Lake Merritt",
    "MCAR": "MacArthur",
    "MLBR": "Millbrae",
    "MLPT": "Milpitas",
    "MONT": "Montgomery St.",
    "NBRK": "North Berkeley",
    "NCON": "North Concord/Martinez",
    "OAKL": "Oakland International Airport",
    "ORIN": "Orinda",
    "PITT": "Pittsburg/Bay Point",
    "PCTR": "Pittsburg Center",
    "PHIL": "Pleasant Hill/Contra Costa Centre",
    "POWL": "Powell St.",
    "RICH": "Richmond",
    "ROCK": "Rockridge",
    "SBRN": "San Bruno",
    "SFIA": "San Francisco International Airport",
    "SANL": "San Leandro",
    "SHAY": "South Hayward",
    "SSAN": "South San Francisco",
    "UCTY": "Union City",
    "WCRK": "Walnut Creek",
    "WARM": "Warm Springs/South Fremont",
    "WDUB": "West Dublin/Pleasanton",
    "WOAK": "West Oakland",
}
_BART_DIRECTIONS = (
    "Antioch",
    "SFO/Millbrae",
    "Richmond",
    "Berryessa",
    "Dublin/Pleasanton",
    "Daly City",
)
_BART_CAUSES = (
    "an earlier medical emergency",
    "police activity",
    "an equipment problem on a train",
    "a track maintenance issue",
    "a signal problem",
    "an earlier major medical emergency",
)

# Thailand travel facts.
_THAILAND: dict[str, Any] = {
    "country": "Thailand",
    "capital": "Bangkok",
    "currency": "Thai baht (THB)",
    "language": "Thai",
    "greeting": {
        "phrase": "sawasdee (สวัสดี), followed by khrap (men) or kha (women)",
        "meaning": "a polite hello or goodbye",
        "gesture": "the wai: palms pressed together at the chest with a slight bow",
    },
    "provinces": [
        {"name": "Bangkok", "thai": "กรุงเทพมหานคร", "region": "Central"},
        {"name": "Phra Nakhon Si Ayutthaya", "thai": "พระนครศรีอยุธยา", "region": "Central"},
        {"name": "Chiang Mai", "thai": "เชียงใหม่", "region": "Northern"},
        {"name": "Chiang Rai", "thai": "เชียงราย", "region": "Northern"},
        {"name": "Sukhothai", "thai": "สุโขทัย", "region": "Northern"},
        {"name": "Khon Kaen", "thai": "ขอนแก่น", "region": "Northeastern"},
        {"name": "Nakhon Ratchasima", "thai": "นครราชสีมา", "region": "Northeastern"},
        {"name": "Udon Thani", "thai": "อุดรธานี", "region": "Northeastern"},
        {"name": "Chon Buri", "thai": "ชลบุรี", "region": "Eastern"},
        {"name": "Trat", "thai": "ตราด", "region": "Eastern"},
        {"name": "Kanchanaburi", "thai": "กาญจนบุรี", "region": "Western"},
        {"name": "Prachuap Khiri Khan", "thai": "ประจวบคีรีขันธ์", "region": "Western"},
        {"name": "Phuket", "thai": "ภูเก็ต", "region": "Southern"},
        {"name": "Krabi", "thai": "กระบี่", "region": "Southern"},
        {"name": "Surat Thani", "thai": "สุราษฎร์ธานี", "region": "Southern"},
    ],
    "dances": [
        {
            "name": "Khon",
            "region": "Central (royal court)",
            "note": "masked dance drama telling the Ramakien",
        },
        {
            "name": "Fon Lep",
            "region": "Northern",
            "note": "slow fingernail dance with long brass nails",
        },
        {
            "name": "Serng",
            "region": "Northeastern (Isan)",
            "note": "lively folk dance to khaen music",
        },
        {"name": "Manora", "region": "Southern", "note": "bird-costumed dance drama"},
        {"name": "Likay", "region": "Central", "note": "popular folk theatre with song and comedy"},
    ],
    "instruments": [
        {"name": "Ranat ek", "type": "xylophone", "note": "leads the piphat ensemble"},
        {"name": "Khong wong yai", "type": "gong circle", "note": "carries the main melody"},
        {"name": "Pi nai", "type": "quadruple-reed oboe", "note": "played with circular breathing"},
        {"name": "Saw duang", "type": "two-string fiddle", "note": "high, bright tone"},
        {"name": "Saw u", "type": "two-string fiddle", "note": "low tone, coconut-shell body"},
        {"name": "Khim", "type": "hammered dulcimer", "note": "struck with bamboo sticks"},
        {"name": "Khaen", "type": "free-reed mouth organ", "note": "the sound of Isan"},
        {"name": "Chakhe", "type": "floor zither", "note": "crocodile-shaped body"},
    ],
    "fruits": [
        {"name": "Durian", "note": "'king of fruits', custard-like flesh and a strong smell"},
        {"name": "Mangosteen", "note": "'queen of fruits', sweet-sour white segments"},
        {"name": "Rambutan", "note": "hairy red skin, juicy flesh"},
        {"name": "Longan", "note": "small, translucent and sweet"},
        {"name": "Nam dok mai mango", "note": "the mango of mango sticky rice"},
        {"name": "Pomelo (som-o)", "note": "large citrus, mild and sweet"},
    ],
    "desserts": [
        {"name": "Khao niao mamuang", "note": "mango with coconut sticky rice"},
        {"name": "Khanom chan", "note": "steamed layered pandan and coconut cake"},
        {
            "name": "Thong yip, thong yot and foi thong",
            "note": "golden egg-yolk sweets given for good luck",
        },
        {"name": "Bua loy", "note": "rice-flour dumplings in warm coconut milk"},
        {"name": "Tub tim krob", "note": "'red rubies' of water chestnut in coconut milk"},
    ],
    "street_food": ["Pad thai", "Som tam", "Moo ping", "Khao man gai", "Gai yang", "Kuay teow"],
    "festivals": [
        {
            "name": "Songkran",
            "when": "13-15 April",
            "note": "Thai New Year, famous for water fights",
        },
        {
            "name": "Loy Krathong",
            "when": "full moon of the 12th lunar month (November)",
            "note": "floating candle baskets",
        },
        {"name": "Yi Peng", "when": "with Loy Krathong", "note": "sky lanterns in Chiang Mai"},
        {
            "name": "Phi Ta Khon",
            "when": "June or July",
            "note": "ghost masks parade in Dan Sai, Loei",
        },
    ],
    "traditional_games": ["Sepak takraw", "Makruk (Thai chess)", "Ri ri khao san", "Mon son pha"],
    "traditional_dress": "chut thai, worn at weddings, ceremonies and festivals",
}

# pizzaallapala: (id, product, description, category, list price ARS)
_PIZZERIA: tuple[tuple[int, str, str, str, int], ...] = (
    (1, "Pizza Muzzarella", "Salsa de tomate, muzzarella y aceitunas", "pizzas", 8500),
    (2, "Fugazzeta", "Rellena de muzzarella con cebolla y orégano", "pizzas", 10200),
    (3, "Napolitana", "Muzzarella, rodajas de tomate, ajo y albahaca", "pizzas", 9600),
    (4, "Calabresa", "Muzzarella y longaniza calabresa", "pizzas", 9900),
    (5, "Cuatro Quesos", "Muzzarella, provolone, roquefort y parmesano", "pizzas", 11500),
    (6, "Vegetariana", "Morrones asados, berenjenas, champiñones y rúcula", "pizzas", 10400),
    (7, "Pala Jamón y Morrones", "Pizza a la pala con jamón cocido y morrones", "pizzas", 10800),
    (
        8,
        "Pala Extra Toppings",
        "Pizza a la pala con doble muzzarella y tres toppings a elección",
        "pizzas",
        12400,
    ),
    (9, "Calzone de Jamón y Queso", "Calzone relleno con extra queso", "calzones", 9200),
    (10, "Fainá", "Porción de fainá de garbanzos", "acompañamientos", 1800),
    (
        11,
        "Docena de Empanadas de Carne",
        "Empanadas al horno de carne cortada a cuchillo",
        "empanadas",
        14400,
    ),
    (12, "Ensalada César", "Lechuga, pollo grillado, croutons y parmesano", "ensaladas", 6900),
    (13, "Ravioles con Salsa Rosa", "Ravioles de ricota y verdura", "pastas", 7800),
    (14, "Flan con Dulce de Leche", "Flan casero con dulce de leche", "postres", 3200),
    (15, "Tiramisú", "Porción de tiramisú clásico", "postres", 3900),
    (16, "Gaseosa 1,5 L", "Línea Coca-Cola", "bebidas", 2600),
    (17, "Cerveza Quilmes 1 L", "Cerveza rubia retornable", "bebidas", 3100),
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
        TopLevelDomainName=_TLD_NAMES.get(tld, ""),
    )
    if tld not in _TLD_NAMES:
        record["Results"] = "EE02"  # domain does not exist
        record["DomainAvailability"] = "AVAILABLE"
        return record
    rng = ctx.entity_rng("melissa-domain", domain)
    if domain in _RESERVED:
        created = dt.date(1995, 8, 14)
    else:
        # the big free providers registered their domains in the 1990s
        age = rng.randint(8800, 10500) if domain in _FREE_PROVIDERS else rng.randint(400, 9500)
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
        else _TLD_NAMES[tld],
        DomainCountryCode="US" if tld in ("com", "org", "net", "edu", "gov", "us") else tld.upper(),
    )
    if domain in _RESERVED:
        record.update(
            Results="EE03",  # the domain publishes a null MX: no mail server
            DomainOrganization="Internet Assigned Numbers Authority",
            DomainTypeIndicator="Business",
        )
        return record
    free = domain in _FREE_PROVIDERS
    record.update(
        DomainOrganization=_FREE_PROVIDERS.get(domain)
        or f"{domain.rsplit('.', 1)[0].replace('-', ' ').title()} Inc.",
        DomainPrivateProxy="Y" if rng.random() < 0.2 and not free else "N",
        MXServer=f"mx{rng.randint(1, 2)}.{domain}" if not free else f"mx.{domain}",
        DomainTypeIndicator="Personal" if free else "Business",
    )
    box = ctx.entity_rng("melissa-mailbox", email.lower())
    codes: list[str] = []
    if domain in _DISPOSABLE:
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
    if local.lower() in _ROLE_MAILBOXES and codes[0] != "EE04":
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
            valid_options=list(_EMAIL_OPTS),
        )
    opt = next((o for o in _EMAIL_OPTS if o.lower() == opt_raw.lower()), None)
    if opt is None:
        return bad_request(
            f"parameter 'opt': unknown option {opt_raw!r}",
            parameter="opt",
            valid_options=list(_EMAIL_OPTS),
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
# Weather_dataSet

_CONDITIONS_BY_RAIN = (
    "Clear",
    "Sunny",
    "Partly cloudy",
    "Cloudy",
    "Light rain",
    "Rain",
    "Thunderstorm",
)


def aqi_category(aqi: int) -> str:
    """US EPA category of an AQI value."""
    for upper, name in _AQI_BANDS:
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
    city = _WEATHER_CITIES[index]
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
                "condition": _CONDITIONS_BY_RAIN[min(6, chance // 15)],
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
            "condition": _CONDITIONS_BY_RAIN[min(6, int(rain * 8))],
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
                "count": len(_WEATHER_CITIES),
                "results": [
                    {"id": i + 1, "city": c[0], "country": c[1]}
                    for i, c in enumerate(_WEATHER_CITIES)
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
        if not 0 <= index < len(_WEATHER_CITIES):
            return not_found(
                f"no weather record with id {query}; ids run from 1 to {len(_WEATHER_CITIES)}"
            )
        return ok(_weather_record(index, ctx))
    folded = query.casefold()
    names = [c[0] for c in _WEATHER_CITIES]
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
    rows = [_dialogue(r) for r in _DIALOGUES]
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
                    "answer": rng.choice(_REPLY_BANK[_intent(speech)]),
                    "status": "analyzing",
                    "user": args.get("user", _DEFAULT_USER),
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
                for i, (code, native, english) in enumerate(_SITE_LANGUAGES)
            ],
        }
    )


def match_industries(alias: str) -> list[tuple[str, str, str, tuple[str, ...]]]:
    """Industries whose code, name or keywords appear in ``alias`` (all of them for '')."""
    text = re.sub(r"^(https?://)?(www\.)?", "", alias.strip().lower())
    text = re.sub(r"\.(com|net|org|tw|io)(\.[a-z]{2})?/?$", "", text)
    if not text:
        return list(_INDUSTRIES)
    squashed = re.sub(r"[^a-z0-9]", "", text)
    out = []
    for row in _INDUSTRIES:
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
            for key, name, url, kind in _PORTALS
        ]
    )


@simulator("Car database%%Makes")
def car_makes(args: dict[str, Any], ctx: SimContext) -> Reply:
    return ok([{"id": i + 1, "name": make} for i, make in enumerate(_CAR_MAKES)])


@simulator("thailand%%thai4")
def thailand(args: dict[str, Any], ctx: SimContext) -> Reply:
    return ok(_THAILAND)


def promo_price(price: int, discount: int) -> int:
    """Promotional price, rounded down to the nearest 10 pesos like a menu board."""
    return price * (100 - discount) // 1000 * 10


@simulator("pizzaallapala%%Get Producto Promo")
def pizzeria_promos(args: dict[str, Any], ctx: SimContext) -> Reply:
    year, week, weekday = ctx.today.isocalendar()
    rng = ctx.entity_rng("pizzaallapala-promos", year, week)
    until = ctx.today + dt.timedelta(days=7 - weekday)  # promotions run until Sunday
    picks = sorted(rng.sample(_PIZZERIA, 8))
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
        station = rng.choice(list(_BART_STATIONS))
        minutes = rng.choice((5, 10, 15, 20))
        direction = rng.choice(_BART_DIRECTIONS)
        cause = rng.choice(_BART_CAUSES)
        hour = rng.randint(5, 8)  # posted before the 9 AM report below
        text = (
            f"There is a {minutes}-minute delay at {_BART_STATIONS[station]} in the "
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
    if orig and orig != "ALL" and orig not in _BART_STATIONS:
        by_name = [a for a, n in _BART_STATIONS.items() if orig.lower() in n.lower()]
        close = by_name[:3] or difflib.get_close_matches(
            orig, list(_BART_STATIONS), n=3, cutoff=0.5
        )
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
