"""The demo world: its date, the collections it fills, its countries and word lists, and how
its values are distributed.

The countries, word lists and sentence templates are data files (``demo/data``); the
values of fields with choices and the weights of every draw stay here, beside the code that
checks them against the data map.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from demo.dice import Weighted, counts
from demo.resources import load

DEFAULT_SEED = 20261123
REFERENCE_TIME = datetime(2026, 11, 1, tzinfo=UTC)  # "now" of the demo world
HISTORY_DAYS = 3 * 365
CUSTOMERS_PER_COMPANY = 8  # customer i brings company i // 8 along when i % 8 == 0
COMPANY_WINDOW = 256  # a customer works for one of the latest companies created before it
MAX_ORDERS = 4  # order numbers are unique for up to 10**8 / MAX_ORDERS customers
MAX_CUSTOMERS = 10**8 // MAX_ORDERS

SUBJECT = "customers"
# Insertion order: referenced rows before the rows that refer to them.
COLLECTIONS = (
    "companies",
    "customers",
    "interactions",
    "orders",
    "order_lines",
    "payment_details",
    "support_tickets",
    "campaign_responses",
    "web_events",
)
# The fields the generator fills, per collection (every row carries all of them).
FIELDS: dict[str, tuple[str, ...]] = {
    "companies": ("name", "industry", "employee_count", "annual_revenue", "country"),
    "customers": (
        "first_name",
        "last_name",
        "email",
        "phone",
        "street",
        "city",
        "postal_code",
        "country",
        "date_of_birth",
        "gender",
        "language",
        "job_title",
        "company_id",
    ),
    "interactions": ("kind", "direction", "occurred_at", "summary", "body", "outcome"),
    "orders": (
        "order_number",
        "ordered_at",
        "status",
        "channel",
        "payment_method",
        "currency",
        "total_amount",
        "shipping_city",
        "shipping_postal_code",
    ),
    "order_lines": ("order_id", "product_sku", "product_name", "quantity", "unit_price"),
    "payment_details": (
        "method",
        "card_brand",
        "card_last4",
        "card_expiry",
        "iban",
        "billing_street",
        "billing_city",
        "billing_postal_code",
        "billing_country",
    ),
    "support_tickets": (
        "ticket_type",
        "priority",
        "opened_at",
        "description",
        "first_response_minutes",
        "status",
        "resolution",
        "satisfaction",
    ),
    "campaign_responses": ("campaign_code", "channel", "sent_at", "opened", "clicked", "feedback"),
    "web_events": (
        "occurred_at",
        "page",
        "duration_seconds",
        "device_id",
        "ip_address",
        "referrer",
    ),
}
# Rows that must be written after (and refer to) rows of another collection.
REFERENCES = {("customers", "company_id"): "companies", ("order_lines", "order_id"): "orders"}


@dataclass(frozen=True)
class Country:
    code: str
    locale: str
    language: str
    currency: str
    weight: int
    name: str
    sepa: bool  # SEPA direct debit offered (IBAN on file)
    mobile_prefixes: tuple[str, ...]  # E.164 prefixes of mobile numbers
    subscriber_digits: int


_countries = load("countries")
COUNTRIES = tuple(Country(**country) for country in _countries["countries"])
# US numbers: a real area code and the 555-0100..0199 block reserved for fiction.
US_AREA_CODES: tuple[str, ...] = _countries["us_area_codes"]
ORDER_NUMBER_FACTOR = 48271  # coprime to 10**8: scrambles (customer, n) into 8 digits
ONLINE_PAYMENT_METHODS = ("card", "card", "sepa_debit", "paypal", "paypal", "invoice")
US_PAYMENT_METHODS = ("card", "card", "card", "paypal")
SHIPPING_CENTS, FREE_SHIPPING_CENTS = 495, 5000
IPV4_DOC_NETS = ("192.0.2", "198.51.100", "203.0.113")
EXCHANGE_RATES = {"EUR": 100, "GBP": 86, "USD": 108}  # cents per 1 EUR

_contacts = load("contacts")
EMAIL_PATTERNS: tuple[str, ...] = _contacts["email_patterns"]  # then a number
EMAIL_DOMAINS: tuple[str, ...] = _contacts["email_domains"]  # .example only
INDUSTRIES: tuple[str, ...] = _contacts["industries"]

# Values of fields with choices, exactly as the data map lists them (checked at start).
GENDERS = ("female", "male", "non_binary", "undisclosed")
INTERACTION_KINDS = ("sales_call", "email", "meeting", "chat")
DIRECTIONS = ("inbound", "outbound")
OUTCOMES = {
    "sales_call": ("no_answer", "follow_up", "qualified", "won", "lost"),
    "email": ("follow_up", "resolved", "qualified"),
    "meeting": ("follow_up", "qualified", "won", "lost"),
    "chat": ("resolved", "follow_up"),
}
ORDER_STATUSES = ("placed", "paid", "shipped", "delivered", "cancelled", "refunded")
ORDER_CHANNELS = ("web", "mobile_app", "store", "phone", "partner")
PAYMENT_METHODS = ("card", "sepa_debit", "paypal", "invoice", "cash")
PAYMENT_DETAIL_METHODS = ("card", "sepa_debit")
TICKET_TYPES = ("billing", "technical", "delivery", "returns", "account", "other")
PRIORITIES = ("low", "normal", "high", "urgent")
FIRST_RESPONSE_MEDIAN = {"low": 900, "normal": 300, "high": 90, "urgent": 25}  # minutes
TICKET_STATUSES = ("open", "pending", "resolved", "closed")
CAMPAIGN_CHANNELS = ("email", "sms", "push", "direct_mail", "social")
CAMPAIGN_TOKENS = {
    "email": "EMAIL",
    "sms": "SMS",
    "push": "PUSH",
    "direct_mail": "MAIL",
    "social": "SOCIAL",
}
OPEN_RATE = {"email": 0.42, "sms": 0.7, "push": 0.3, "social": 0.35}
CLICK_RATE = {"email": 0.22, "sms": 0.12, "push": 0.15, "social": 0.2}
_campaigns = load("campaigns")
# (code, month, day): a campaign of each channel starts on that day of every year
CAMPAIGN_SEASONS: tuple[tuple[str, int, int], ...] = tuple(
    (s["code"], s["month"], s["day"]) for s in _campaigns["seasons"]
)
FEEDBACK: tuple[str, ...] = _campaigns["feedback"]


CHOICE_FIELDS: dict[tuple[str, str], tuple[str, ...]] = {
    ("customers", "gender"): GENDERS,
    ("interactions", "kind"): INTERACTION_KINDS,
    ("interactions", "direction"): DIRECTIONS,
    ("interactions", "outcome"): tuple(sorted({o for v in OUTCOMES.values() for o in v})),
    ("orders", "status"): ORDER_STATUSES,
    ("orders", "channel"): ORDER_CHANNELS,
    ("orders", "payment_method"): PAYMENT_METHODS,
    ("payment_details", "method"): PAYMENT_DETAIL_METHODS,
    ("support_tickets", "ticket_type"): TICKET_TYPES,
    ("support_tickets", "priority"): PRIORITIES,
    ("support_tickets", "status"): TICKET_STATUSES,
    ("campaign_responses", "channel"): CAMPAIGN_CHANNELS,
}

# (category code, category slug, nouns, base price range in EUR)
_products = load("products")
PRODUCT_LINES: tuple[tuple[str, str, tuple[str, ...], int, int], ...] = tuple(
    (line["code"], line["category"], line["nouns"], line["eur_from"], line["eur_to"])
    for line in _products["product_lines"]
)
PRODUCT_ADJECTIVES: tuple[str, ...] = _products["adjectives"]
PRODUCT_COLOURS: tuple[str, ...] = _products["colours"]

_web = load("web")
SEARCH_TERMS: tuple[str, ...] = _web["search_terms"]  # as in a query string
STATIC_PAGES: tuple[str, ...] = _web["static_pages"]
REFERRERS: tuple[str | None, ...] = _web["referrers"]  # None: typed in, or a bookmark

# Sentence templates: {first}, {email}, {order} ... are filled with the customer's values.
_notes = load("notes")
INTERACTION_SUMMARIES: dict[str, tuple[str, ...]] = _notes["interaction_summaries"]
INTERACTION_SENTENCES: tuple[str, ...] = _notes["interaction_sentences"]
PII_SENTENCES: tuple[str, ...] = _notes["pii_sentences"]
IBAN_SENTENCES: tuple[str, ...] = _notes["iban_sentences"]
AGENTS: tuple[str, ...] = _notes["agents"]
_tickets = load("tickets")
TICKET_DESCRIPTIONS: dict[str, tuple[str, ...]] = _tickets["descriptions"]
TICKET_PII_SENTENCES: tuple[str, ...] = _tickets["pii_sentences"]
TICKET_RESOLUTIONS: dict[str, tuple[str, ...]] = _tickets["resolutions"]


# -- how the world is distributed ---------------------------------------------------------

COUNTRY_DRAW = Weighted(COUNTRIES, [c.weight for c in COUNTRIES])
GENDER_DRAW = Weighted(GENDERS, (48, 48, 2, 2))
INTERACTION_KIND_DRAW = Weighted(INTERACTION_KINDS, (25, 40, 10, 25))
ORDER_CHANNEL_DRAW = Weighted(ORDER_CHANNELS, (50, 25, 12, 5, 8))
SETTLED_ORDER_STATUS = Weighted(("delivered", "cancelled", "refunded"), (86, 7, 7))
CARD_BRAND_DRAW = Weighted(("Visa", "Mastercard", "American Express"), (55, 38, 7))
TICKET_TYPE_DRAW = Weighted(TICKET_TYPES, (18, 20, 25, 20, 12, 5))
PRIORITY_DRAW = Weighted(PRIORITIES, (20, 55, 20, 5))
SETTLED_TICKET_STATUS = Weighted(("closed", "resolved", "pending"), (55, 40, 5))
SATISFACTION_DRAW = Weighted((1, 2, 3, 4, 5), (6, 7, 15, 35, 37))
CAMPAIGN_CHANNEL_DRAW = Weighted(CAMPAIGN_CHANNELS, (50, 12, 15, 8, 15))
COMPANY_SIZE_DRAW = Weighted(
    ((5, 49), (50, 249), (250, 999), (1000, 9999), (10000, 90000)), (40, 30, 18, 10, 2)
)
# Rows per customer: a few of each on average, many customers with none of some. About ten
# rows per customer in all (companies included), which is what insert_many can write at a
# million customers in minutes rather than hours.
INTERACTIONS_PER_CUSTOMER = counts(34, 26, 16, 10, 7, 4, 3)  # 0-6, mean 1.5
ORDERS_PER_CUSTOMER = counts(40, 33, 16, 8, 3)  # 0-4 (at most MAX_ORDERS), mean 1.0
EXTRA_LINES_PER_ORDER = counts(65, 22, 9, 4)  # 1-4 lines per order, mean 1.5
PAYMENT_DETAILS_PER_CUSTOMER = counts(50, 42, 8)  # 0-2, mean 0.6
TICKETS_PER_CUSTOMER = counts(65, 24, 8, 3)  # 0-3, mean 0.5
CAMPAIGNS_PER_CUSTOMER = counts(36, 24, 16, 11, 8, 5)  # 0-5, mean 1.5
WEB_EVENTS_PER_CUSTOMER = counts(28, 18, 14, 11, 9, 7, 6, 4, 3)  # 0-8, mean 2.4
