"""Consent records: append-only events per subject and purpose, and the state derived from them."""
