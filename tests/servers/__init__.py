"""Real local services (mail, calendar) that tests start on 127.0.0.1."""
