"""Faker values per country, drawn once per seed: names, streets, places, jobs, companies,
IBANs. A customer combines them freely, so a few hundred of each give millions of people.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from faker import Faker

from demo.dice import ascii_fold, stable_int
from demo.world import COUNTRIES


@dataclass(frozen=True)
class LocalePool:
    """Faker values of one country, drawn once per seed (street and place combine freely)."""

    female: tuple[tuple[str, str], ...]  # (first name, its ASCII form for email addresses)
    male: tuple[tuple[str, str], ...]
    last: tuple[tuple[str, str], ...]
    streets: tuple[str, ...]
    places: tuple[tuple[str, str], ...]  # (city, postal code)
    jobs: tuple[str, ...]
    companies: tuple[str, ...]
    ibans: tuple[str, ...]  # valid check digits; empty where there is no SEPA

    def cut(self, limit: Callable[[str], int | None]) -> LocalePool:
        """The same pool with every value shortened to the data map's limit for it."""

        def fit(kind: str, values: Sequence[str]) -> tuple[str, ...]:
            n = limit(kind)
            return tuple(v[:n].rstrip() for v in values) if n else tuple(values)

        def fit_named(kind: str, values: Sequence[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
            shortened = fit(kind, [v for v, _ in values])
            return tuple(zip(shortened, (a for _, a in values), strict=True))

        return LocalePool(
            female=fit_named("first_name", self.female),
            male=fit_named("first_name", self.male),
            last=fit_named("last_name", self.last),
            streets=fit("street", self.streets),
            places=tuple(
                zip(
                    fit("city", [c for c, _ in self.places]),
                    fit("postal_code", [p for _, p in self.places]),
                    strict=True,
                )
            ),
            jobs=fit("job_title", self.jobs),
            companies=fit("company", self.companies),
            ibans=fit("iban", self.ibans),
        )


POOL_SIZES = {
    "female": 250,
    "male": 250,
    "last": 600,
    "streets": 1000,
    "places": 400,
    "jobs": 200,
    "companies": 300,
    "ibans": 300,
}


@functools.lru_cache(maxsize=2)
def faker_pools(seed: int) -> dict[str, LocalePool]:
    """Per country, Faker values from a Faker seeded with ``seed`` (about a second's work)."""
    pools = {}
    for country in COUNTRIES:
        fake = Faker(country.locale)
        fake.seed_instance(stable_int("faker", seed, country.locale))

        def names(make: Callable[[], str], n: int) -> tuple[tuple[str, str], ...]:
            distinct = dict.fromkeys(make() for _ in range(n))  # in drawing order
            return tuple((v, ascii_fold(v)) for v in distinct)

        city = _city_drawer(fake)
        pools[country.code] = LocalePool(
            female=names(fake.first_name_female, POOL_SIZES["female"]),
            male=names(fake.first_name_male, POOL_SIZES["male"]),
            last=names(fake.last_name, POOL_SIZES["last"]),
            streets=tuple(
                fake.street_address().replace("\n", ", ") for _ in range(POOL_SIZES["streets"])
            ),
            places=tuple((city(), fake.postcode()) for _ in range(POOL_SIZES["places"])),
            jobs=tuple(fake.job() for _ in range(POOL_SIZES["jobs"])),
            companies=tuple(fake.company() for _ in range(POOL_SIZES["companies"])),
            ibans=tuple(fake.iban() for _ in range(POOL_SIZES["ibans"])) if country.sepa else (),
        )
    return pools


def _city_drawer(fake: Faker) -> Callable[[], str]:
    """``fake.city``, but independent of Python's string hashing. Faker's it_IT provider
    builds its city list from a set, so the list's order, and the city a seed draws, changed
    with ``PYTHONHASHSEED``: the same seed made a different demo in each process. Drawing
    from the sorted list takes the same random number as ``fake.city`` does."""
    unordered = next(
        (p.cities for p in fake.get_providers() if isinstance(getattr(p, "cities", None), list)),
        None,
    )
    if not unordered:
        return fake.city
    ordered = sorted(unordered)
    return lambda: str(fake.random_element(ordered))


# Where each pool's values land: a value must fit the tightest of these fields.
POOL_FIELDS = {
    "first_name": (("customers", "first_name"),),
    "last_name": (("customers", "last_name"),),
    "street": (("customers", "street"), ("payment_details", "billing_street")),
    "city": (
        ("customers", "city"),
        ("orders", "shipping_city"),
        ("payment_details", "billing_city"),
    ),
    "postal_code": (
        ("customers", "postal_code"),
        ("orders", "shipping_postal_code"),
        ("payment_details", "billing_postal_code"),
    ),
    "job_title": (("customers", "job_title"),),
    "company": (("companies", "name"),),
    "iban": (("payment_details", "iban"),),
}
