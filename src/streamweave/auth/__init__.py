"""Local accounts, sessions, personal API tokens and login throttling."""
