"""Credentials where they must not be: inside URLs, written literally into settings, in error text.

Pure functions over strings (the standard library only), so the lowest layers can use them:
``domain.errors.ConnectorError`` strips URL credentials from its own message, the audit log and a
run's error and output pass ``sanitise``, and ``meshclaw config check`` refuses a setting for which
``url_credential_problem`` or ``literal_secret_problem`` has a reason.
"""

from __future__ import annotations

import re


REDACTED = "[redacted]"
# Key names that hold secrets ("password", "api_key", "access_token"), but not counts such as "input_tokens".
SECRET_KEYS = re.compile(r"(pass(word|wd)?|secret|api[_-]?key|authorization|credentials?|(^|[_-])token|cookie)$", re.I)
# A URL's userinfo (``https://alice:PASSWORD@host``, ``https://TOKEN@host``): everything between "//" and "@".
_URL_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/?#@\s]+)@")
# ``user:password@host`` written without a scheme (an IMAP or SMTP host setting).
_BARE_USERINFO = re.compile(r"^(?P<user>[^/?#@\s:]+):(?P<password>[^/?#@\s]*)@(?P<host>[^/?#@\s]+)")
# A query parameter whose name says it carries a credential: ?token=, &api_key=, ;password=, &X-Amz-Signature=.
_SECRET_PARAM_NAME = r"[^=&#;?\s]*(?:token|key|pass(?:word|wd)?|pwd|secret|signature|sig|auth|credential|session)[^=&#;?\s]*"
_SECRET_PARAM = re.compile(rf"(?P<name>[?&;]{_SECRET_PARAM_NAME}=)(?P<value>[^&#;\s]+)", re.I)


def strip_url_credentials(text: str) -> str:
    """``text`` with every credential a URL in it carries replaced by ``[redacted]``: the userinfo
    (``https://alice:pw@host/`` → ``https://[redacted]@host/``) and the value of each query parameter
    named like a credential (``?token=abc`` → ``?token=[redacted]``). Linear in ``len(text)``.

    Used on every connector error before it reaches the model, the run, the audit log or a console."""
    text = _URL_USERINFO.sub(lambda m: f"{m.group('scheme')}{REDACTED}@", text)
    return _SECRET_PARAM.sub(lambda m: f"{m.group('name')}{REDACTED}", text)


def sanitise(text: str, secret_values: "list[str] | tuple[str, ...]" = ()) -> str:
    """``strip_url_credentials`` plus every known secret value (``Secrets.values()``) replaced by
    ``[redacted]``: what a run's error or output may keep of a failure."""
    for value in secret_values:
        if value:
            text = text.replace(value, REDACTED)
    return strip_url_credentials(text)


def url_credential_problem(value: str) -> str | None:
    """Why a configuration value carries a credential inside a URL, or None.

    ``https://alice:PASSWORD@host/``, ``https://TOKEN@host/``, ``alice:PASSWORD@imap.example.com``, or a
    query parameter named like a credential (``?api_key=...``). An e-mail address is not a URL."""
    from urllib.parse import parse_qsl, urlsplit

    text = value.strip()
    if "://" in text:
        parts = urlsplit(text)
        if parts.username or parts.password:
            return ("carries a credential in the URL (user:password@): give the user name and password in their "
                    "own settings, the password as 'env:NAME' or 'secret:NAME'")
        query = parts.query
    elif _BARE_USERINFO.match(text):
        return ("carries a credential (user:password@host): give the host alone, the password as 'env:NAME' or "
                "'secret:NAME' in its own setting")
    else:
        query = text.partition("?")[2] if text.partition("?")[0] and "/" in text.partition("?")[0] else ""
    for name, _ in parse_qsl(query.replace(";", "&"), keep_blank_values=True):
        if re.fullmatch(_SECRET_PARAM_NAME, name, re.I):
            return (f"carries a credential in the URL (query parameter {name!r}): send it as a header or setting "
                    "given as 'env:NAME' or 'secret:NAME'")
    return None


def literal_secret_problem(key: str, value: object) -> str | None:
    """Why ``key: value`` in a toolset's settings is a secret written into the configuration, or None:
    a key named like a secret (``password``, ``api_key``, ``token``...) holding a literal string
    rather than a reference (``env:NAME`` / ``secret:NAME``)."""
    if not isinstance(value, str) or not SECRET_KEYS.search(key) or not value.strip():
        return None
    if re.fullmatch(r"(env|secret):[A-Za-z_][A-Za-z0-9_.-]*", value):
        return None
    return ("secrets are never written into the config: name one as 'env:VARIABLE' or 'secret:NAME' "
            "(NAME is looked up in the secrets file)")


def without_secret_values(value: object, secret_values: "list[str] | tuple[str, ...]") -> object:
    """``value`` with every known secret value inside its strings replaced by ``[redacted]``, through
    dicts, lists and tuples (other objects are returned as they are). What a tool returned is kept in
    the run's durable step and shown to the model: neither ever holds a secret handed to a connector."""
    secrets = [s for s in secret_values if s]
    if not secrets:
        return value
    if isinstance(value, str):
        for s in secrets:
            value = value.replace(s, REDACTED)
        return value
    if isinstance(value, dict):
        return {k: without_secret_values(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [without_secret_values(v, secrets) for v in value]
    if isinstance(value, tuple):
        return tuple(without_secret_values(v, secrets) for v in value)
    return value
