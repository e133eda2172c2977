"""Status report: a weekly draft from the owner's own sent mail, meetings, chat and deployments, for them to edit and send."""
