"""Print the digests of a seed's demo rows and consent histories (run in a child process).

The test runs it under two PYTHONHASHSEEDs: Faker's it_IT city list is built from a set,
and the demo draws from it sorted so that string hashing cannot change a seed's data.
"""

from __future__ import annotations

import hashlib
import json
import sys
from typing import Any

from demo.consents import demo_consent_history
from demo.generator import DemoGenerator
from governance.settings import PACKAGED_POLICY_DIR
from policies.loader import load_policy_set


def _plain(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _digest(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def digests(seed: int, customers: int) -> tuple[str, str]:
    """(digest of the CRM rows, digest of the consent histories) of customers 0..n-1."""
    policy = load_policy_set(PACKAGED_POLICY_DIR)
    generator = DemoGenerator(policy.datamap, seed)
    rows = generator.rows_for(range(customers))
    selling = [p.id for p in policy.purposes.selling_or_sharing()]
    histories = [
        [
            (
                e.subject_id,
                str(e.action),
                str(e.source),
                e.purpose,
                e.policy_version,
                e.evidence,
                _plain(e.occurred_at),
            )
            for e in demo_consent_history(generator.customer_id(i), i, seed, selling)
        ]
        for i in range(customers)
    ]
    plain_rows = {
        c: [{k: _plain(v) for k, v in row.items()} for row in found] for c, found in rows.items()
    }
    return _digest(plain_rows), _digest(histories)


if __name__ == "__main__":
    print(json.dumps(digests(int(sys.argv[1]), int(sys.argv[2]))))
