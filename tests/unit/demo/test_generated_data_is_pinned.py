"""The demo data of a seed is fixed: the same seed gives the same rows and consent events.

The digests were computed when the demo moved out of governance/ (and its word lists into
data files), and the rows' again when the Italian cities stopped following Python's string
hashing; a move, a refactor or a reordered word list that changes one value fails here.
Faker's locale word lists are part of the output, so the digests belong to one Faker version.
Each is computed in child processes under two PYTHONHASHSEEDs: both must print it.
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
        "6dfa28aa7be208e6ac089ac47dcfbf5b11849524196e09633204555c725f835a",
        "18182d753e862fbcc97a818033dbe0ab0a463beb668637c133aed28ef7b711ca",
    ],
    20261123: [
        "ad830d928276fea50ba5880ae3d5a530d634bcdfe69e565e5af7c163c9033ef9",
        "046b682704d64b4bbe24a29e36dbb9dc319e95c63f95b0235a927e6d02d1f7f7",
    ],
}


@pytest.mark.skipif(
    faker.VERSION != FAKER_VERSION,
    reason=f"digests pinned with Faker {FAKER_VERSION} (its word lists)",
)
@pytest.mark.parametrize("hash_seed", ["0", "1"])
@pytest.mark.parametrize("seed", sorted(PINNED))
def test_a_seed_generates_the_pinned_rows_and_consent_histories_in_every_process(
    seed: int, hash_seed: str
) -> None:
    env = {
        **os.environ,
        "PYTHONHASHSEED": hash_seed,  # string hashing must not reach the data (demo.pools)
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
