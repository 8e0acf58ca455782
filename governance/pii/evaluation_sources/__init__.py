"""Labelled evaluation sources the project's own generator (``evaluation.generate``) does not
write: the detector is tuned on one seeded split of them and reported on the other.

- ``presidio_templates``: the sentence templates that ship in Microsoft's
  ``presidio-evaluator`` package (PyPI, version 0.3.2, MIT licence, copied beside this file
  with its licence, because the package depends on transformers, pandas and plotly).
- ``crm_notes``: CRM-style notes: lower-case chat, names next to digits, and non-PII
  look-alikes (order, ticket, SKU, PO and tracking numbers, amounts, dates, gate codes).

Both are filled with Faker locales our generator does not use (``FILL_LOCALES``), so the
names, IBANs and phone numbers are not the generator's. Figures are reported over several
splits (``SPLIT_SEEDS``), each a fresh filling's held-out half: the mean and the worst.
"""

from governance.pii.evaluation_sources.sources import (
    SOURCES,
    SPLIT_SEEDS,
    split,
    split_documents,
)

__all__ = ["SOURCES", "SPLIT_SEEDS", "split", "split_documents"]
