"""The demo data of a seed is fixed: the same seed gives the same rows and consent events.

The digests were computed before the demo moved out of governance/ (and its word lists into
data files); a move, a refactor or a reordered word list that changes one value fails here.
Faker's locale word lists are part of the output, so the digests belong to one Faker version,
and they are computed in a child process with a fixed PYTHONHASHSEED (demo_digest.py says why).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import faker
import pytest

ROOT = Path(__file__).resolve().parents[3]
CUSTOMERS = 300
FAKER_VERSION = "40.63.0"
# seed: (digest of the CRM rows, digest of the consent histories), PYTHONHASHSEED=0
PINNED = {
    7: [
        "b11ba9f6aa8d76d0178520242c2cdcf7835916d49103af3534c2f79c8a0e6f09",
        "18182d753e862fbcc97a818033dbe0ab0a463beb668637c133aed28ef7b711ca",
    ],
    20261123: [
        "32e234e05b6a1d60c106565fe1be39a74b18693b21e11df196b1a690748d0de6",
        "046b682704d64b4bbe24a29e36dbb9dc319e95c63f95b0235a927e6d02d1f7f7",
    ],
}


@pytest.mark.skipif(
    faker.VERSION != FAKER_VERSION,
    reason=f"digests pinned with Faker {FAKER_VERSION} (its word lists)",
)
@pytest.mark.parametrize("seed", sorted(PINNED))
def test_a_seed_generates_the_pinned_rows_and_consent_histories(seed: int) -> None:
    env = {
        **os.environ,
        "PYTHONHASHSEED": "0",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    child = subprocess.run(  # noqa: S603 - our interpreter, our module
        [sys.executable, "-m", "tests.unit.demo.demo_digest", str(seed), str(CUSTOMERS)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(child.stdout) == PINNED[seed]
