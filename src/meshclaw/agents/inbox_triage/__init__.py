"""Inbox triage: evidence from headers and history, one judgement per message, filing, drafts, a briefing."""
