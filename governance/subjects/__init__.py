"""The officer's view of one data subject: where their records are, their consent, their
requests."""
