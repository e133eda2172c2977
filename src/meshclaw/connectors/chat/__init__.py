"""Team chat: one set of tools over Matrix and Slack backends (``backend.ChatBackend``)."""
