"""The login running the tests, mapped to a user of a test configuration (``local_users``)."""

from __future__ import annotations

import os
import pwd
import textwrap

LOGIN = pwd.getpwuid(os.geteuid()).pw_name


def mapped(config_text: str, user_id: str = "alice") -> str:
    """``config_text`` with this machine's login mapped to ``user_id``, as commands need to act."""
    return textwrap.dedent(config_text).rstrip() + f"\nlocal_users: {{{LOGIN}: {user_id}}}\n"
