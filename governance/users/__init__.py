"""Console users: people (officers, auditors, admins) who sign in to the browser console."""
