"""Who is acting: a user id from the configuration, with that user's roles.

A command run on this machine acts as the user its operating-system login maps to in the
configuration's ``local_users: {login: user id}``; there is no option to act as someone else.
The login is read from the process's effective uid (``pwd``), never from ``$USER`` or
``$LOGNAME``, which anyone can set. The worker's socket maps the connecting process's uid the
same way (``SO_PEERCRED``, see ``surfaces/handoff.py``).
"""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass

from meshclaw.domain.config import Config
from meshclaw.domain.errors import NotAuthorized

ROLES = ("employee", "manager", "admin", "auditor")


def login_of_uid(uid: int) -> str:
    """The login name of a numeric uid; ``uid:N`` when the user database has no entry for it."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid:{uid}"


def os_login() -> str:
    """The login of this process's effective uid."""
    return login_of_uid(os.geteuid())


@dataclass(frozen=True)
class Actor:
    """A verified user id and that user's roles (a subset of ``ROLES``)."""

    user_id: str
    roles: frozenset[str]

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    @property
    def reads_everything(self) -> bool:
        return bool({"admin", "auditor"} & self.roles)

    @classmethod
    def of(cls, config: Config, user_id: str) -> "Actor":
        """The actor for a user id of the configuration. Raises NotAuthorized for an unknown id."""
        for u in config.users:
            if u.id == user_id:
                return cls(u.id, frozenset(u.roles))
        raise NotAuthorized(f"{user_id!r} is not a user in the configuration")

    @classmethod
    def local(cls, config: Config, login: str | None = None) -> "Actor":
        """The actor a login on this machine is (default: this process's login), per ``local_users``.

        Raises NotAuthorized naming the fix when the login is not mapped."""
        login = login if login is not None else os_login()
        user_id = config.local_users.get(login)
        if user_id is None:
            raise NotAuthorized(f"login {login!r} is not mapped to a user: add `local_users: {{{login}: USER_ID}}` "
                                "to the configuration")
        return cls.of(config, user_id)
