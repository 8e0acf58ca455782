"""PII detection with Presidio, offline.

Importing this package makes every library it uses stay off the network: tldextract (used by
e-mail validation) is told to use the suffix list it ships instead of fetching one, and the
Hugging Face libraries (used only if a deployment configures a transformer model) run
offline; and Presidio's regex timeout is one second instead of sixty. This must happen
before presidio (and so tldextract) is imported, hence here.
"""

import os

os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] = ""
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# Presidio's regex timeout, read when presidio_analyzer is imported (whole seconds; its default
# of 60 lets one crafted text hold a worker for minutes). Our runner has its own, in
# analyzer.yaml (pattern_timeout_seconds).
os.environ.setdefault("REGEX_TIMEOUT_SECONDS", "1")
