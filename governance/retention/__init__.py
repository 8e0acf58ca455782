"""Storage limitation: the data map's retention rules enforced on reads and by sweeps, legal
holds that suspend them, and the record of processing generated from the policy files."""
