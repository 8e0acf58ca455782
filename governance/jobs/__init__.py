"""Background jobs: a table that says what must run, runners that only deliver, a reaper."""
