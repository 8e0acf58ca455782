"""The demo: a realistic, deterministic, fictional CRM population, above the domain.

``demo.store.fill_demo_store`` writes companies, customers and, per customer, a few interactions,
orders with their lines, payment details, support tickets, campaign responses and web
events - the reference data map's collections - through :meth:`RecordStore.insert_many`, so
every value is coerced and validated against the data map exactly as the API would.

What the data is like
    Customers live in DE, FR, GB, US, NL, ES or IT; names, streets, cities, postal codes, job
    titles, company names and IBANs come from the Faker locale of their country, phone
    numbers are E.164 mobile numbers of that country (US ones in the fictional 555-01xx
    block), languages are BCP 47 tags of the country and currencies its currency. Emails use
    ``.example`` domains only. Free text (interaction notes, ticket descriptions, resolutions,
    campaign feedback) is built from templates, and some of it mentions the customer's phone
    number, email, IBAN, address or a colleague's name, so PII scans have something to find.
    All of it is fictional. Dates fall in the three years before ``REFERENCE_TIME`` - a fixed
    date, not today - so the output does not change with the clock.

Deterministic
    Customer ``i`` (and the company every 8th customer brings along) is drawn from a random
    generator seeded with ``(seed, i)`` and pools of Faker values built once from ``seed``, so
    the same seed and customer count give the same rows and ids, whatever the batch size
    (for a given Faker version: its word lists are part of the output). Python's string
    hashing does not reach the data: Faker builds its Italian city list from a set, and the
    demo draws from it sorted (``demo.pools``).

Ids are time-ordered (UUIDv7 layout, 32 lowercase hex like the store's own ids)
    The 48-bit "time" part counts customers, the next 12 bits count a customer's rows of a
    collection and the remaining 62 bits are random. Rows are therefore inserted in id order:
    B-tree inserts append instead of landing on random pages. With random ids SQLite slows
    down five-fold within the first two million rows; with these it stays flat, which is
    what makes a million customers (about ten million rows) a matter of minutes.

Idempotent and resumable
    Customers are written in batches of ``batch_size``; a batch - its customers, their
    companies and all their rows - is one transaction. Before writing a batch the generator
    asks which of its customers already exist: if all do the batch is skipped, otherwise
    only the missing customers (each with everything that belongs to it) are written. A
    second run therefore writes nothing, a run killed half-way resumes where it stopped, and
    a run with a larger count (or another batch size) adds exactly the missing customers.

Speed
    About 13,000 rows/s on SQLite on a 2-vCPU VM, flat as the store grows: a million
    customers (10 million rows, 3.6 GB) in about 13 minutes. Four fifths of that is
    ``insert_many`` itself (coercing and encoding each value, then SQLAlchemy binding), so the
    lever is the number of rows per customer (``*_PER_CUSTOMER`` in ``world``), not the generator.

Nothing personal is ever logged; the progress callback gets two counts.

Where things are
    ``world`` (the demo's date, collections, countries, word lists and draws), ``data/`` (the
    word lists, sentence templates and fixtures as JSON, read by ``resources``), ``dice``
    (seeded draws), ``pools`` (Faker values per country), ``generator`` (the rows of a
    customer), ``store`` (writing them), ``consents``, ``requests`` and ``retention`` (the
    demo's consent histories, data-subject requests and sweep), and ``setup`` (the
    ``governance demo`` command's work: all of the above, demo clients and users, serving).
"""
