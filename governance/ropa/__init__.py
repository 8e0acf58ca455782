"""The record of processing activities (GDPR Art. 30), generated from the policy files and
the service's own state, so the record and the behaviour cannot drift apart."""
