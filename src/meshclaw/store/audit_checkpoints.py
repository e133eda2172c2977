"""Signed checkpoints of the audit chain, kept outside the database: the anchor its writer cannot rewrite.

The HMAC chain (``store/audit.py``) shows an edit, a deletion in the middle or a reordering. It
cannot show on its own that the newest records (or all of them) were deleted, nor that someone who
can read the HMAC key re-chained the whole log. So after every record it appends, the store also
appends one line to a checkpoint file: the record's sequence number and hash, signed with a
separate Ed25519 key (the *checkpoint key*). ``meshclaw audit verify`` then checks the chain against
every checkpoint: a log that ends before the newest checkpoint, or whose record differs from the
hash a checkpoint gave it, does not verify; two different signed hashes for one record mean the log
was rewritten and anchored again.

The file (``MESHCLAW_AUDIT_CHECKPOINTS``, default ``<data dir>/audit-checkpoints.jsonl``) is only
ever appended to, line by line (``O_APPEND``, one ``write`` per line, mode 0600). Put it where the
database's writer cannot rewrite it — another disk or machine, or a file made append-only with
``chattr +a`` — to protect against someone who can also write the data dir (docs/security.md).

The first line holding the key is ``{"kind": "key", "public_key": ...}``; every checkpoint line is
``{"seq": N, "hash": H, "at": ISO time, "key": fingerprint, "sig": base64}``.

A missing key is never replaced over existing checkpoints: opening refuses with one line saying
what was lost. An existing log with no anchor at all (made before checkpoints existed) is anchored
only on request (``meshclaw audit anchor``), never silently.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from meshclaw.domain.errors import StoreError

DOMAIN = b"meshclaw-audit-checkpoint\n"  # what a signature is over starts with this: no other use of the key verifies


def _signed_bytes(seq: int, hash_: str, at: str) -> bytes:
    return DOMAIN + json.dumps({"seq": seq, "hash": hash_, "at": at}, sort_keys=True, separators=(",", ":")).encode()


def fingerprint(public_raw: bytes) -> str:
    """The first 16 hex digits of the SHA-256 of the raw Ed25519 public key: how a person names the key."""
    return hashlib.sha256(public_raw).hexdigest()[:16]


@dataclass
class AnchorState:
    """What the checkpoint file says, read before the chain is walked.

    ``claims``: record seq → the hash a valid checkpoint gave it; ``problems``: lines that do not
    verify, a changed key, two different hashes for one record (each a sentence)."""

    path: Path
    exists: bool
    fingerprint: str | None = None
    claims: dict[int, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def last_seq(self) -> int | None:
        return max(self.claims) if self.claims else None


def _private_write(path: Path, data: bytes, *, exclusive: bool) -> None:
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_APPEND)
    fd = os.open(path, flags, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


class Checkpoints:
    """Appends signed checkpoints to ``path`` with the Ed25519 key at ``key_path``."""

    def __init__(self, path: Path, key_path: Path, private_key: object):
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        assert isinstance(private_key, Ed25519PrivateKey)
        self.path = path
        self.key_path = key_path
        self._key = private_key
        raw = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.public_key = base64.b64encode(raw).decode()
        self.fingerprint = fingerprint(raw)

    # --- opening -------------------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path, key_path: Path, *, log_has_records: bool) -> "Checkpoints | None":
        """The anchor of a store: its key loaded, or made when the log is still empty.

        Returns None for a log that has records but never had an anchor (``meshclaw audit verify``
        says so; ``start`` anchors it). Raises StoreError when the key is missing but checkpoints
        exist: a new key would hide what the old checkpoints say, so none is made."""
        if key_path.exists():
            if log_has_records and not path.exists():
                raise StoreError(f"the audit checkpoint file {path} is missing, but its key {key_path} exists and the "
                                 "log holds records: restore the file (or point MESHCLAW_AUDIT_CHECKPOINTS at it); "
                                 "a new one is never started over an anchored log")
            return cls(path, key_path, _load_key(key_path))
        if path.exists() and path.stat().st_size > 0:
            raise StoreError(f"the audit checkpoint key {key_path} is missing, but {path} holds checkpoints signed "
                             "with it: restore the key file (a new key is never made over existing checkpoints)")
        if log_has_records:
            return None
        return cls.create(path, key_path)

    @classmethod
    def create(cls, path: Path, key_path: Path) -> "Checkpoints":
        """Make a new checkpoint key (0600, written whole before it appears under its name, so a
        process opening at the same moment never reads half a key) and announce it in the file."""
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

        key_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        pem = Ed25519PrivateKey.generate().private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
        tmp = key_path.with_name(f".{key_path.name}.{os.getpid()}.tmp")
        _private_write(tmp, pem, exclusive=True)
        try:
            os.link(tmp, key_path)  # fails if another process made one first: then that one is used
            made = True
        except FileExistsError:
            made = False
        finally:
            tmp.unlink()
        anchor = cls(path, key_path, _load_key(key_path))
        if made:
            anchor._append({"kind": "key", "public_key": anchor.public_key, "key": anchor.fingerprint,
                            "at": datetime.now(timezone.utc).isoformat()})
        return anchor

    # --- writing -------------------------------------------------------------------------------

    def record(self, seq: int, hash_: str) -> None:
        """Append the signed checkpoint ``(seq, hash)``. Raises StoreError if the file cannot be written."""
        at = datetime.now(timezone.utc).isoformat()
        sig = base64.b64encode(self._key.sign(_signed_bytes(seq, hash_, at))).decode()  # type: ignore[attr-defined]
        self._append({"seq": seq, "hash": hash_, "at": at, "key": self.fingerprint, "sig": sig})

    def _append(self, line: dict) -> None:
        data = (json.dumps(line, sort_keys=True, separators=(",", ":")) + "\n").encode()
        try:
            _private_write(self.path, data, exclusive=False)
        except OSError as e:
            raise StoreError(f"cannot append to the audit checkpoint file {self.path}: {e.strerror}") from None


def _load_key(key_path: Path) -> object:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key = load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError) as e:
        raise StoreError(f"cannot read the audit checkpoint key {key_path}: {e}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise StoreError(f"the audit checkpoint key {key_path} is not an Ed25519 key")
    return key


def read_anchor(path: Path) -> AnchorState:
    """Parse and check the checkpoint file at ``path``: every line's signature under the one key the
    file announces. Linear in the file's size; never raises for a damaged file (each damage is a problem)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    state = AnchorState(path, path.exists())
    if not state.exists:
        return state
    lines: list[tuple[int, dict]] = []
    keys: dict[str, bytes] = {}
    with open(path, "rb") as f:
        for number, raw in enumerate(f, 1):
            try:
                line = json.loads(raw)
                if not isinstance(line, dict):
                    raise ValueError
            except ValueError:
                state.problems.append(f"checkpoint line {number} is not a checkpoint")
                continue
            if line.get("kind") == "key":
                public = base64.b64decode(str(line.get("public_key", "")))
                keys[fingerprint(public)] = public
            else:
                lines.append((number, line))
    if len(keys) > 1:
        state.problems.append(f"the checkpoint file names {len(keys)} different keys ({', '.join(sorted(keys))}): "
                              "the anchor was started again")
    if not keys:
        if lines:
            state.problems.append("the checkpoint file does not say which key signs it")
        return state
    state.fingerprint = next(iter(keys))
    verifiers = {fp: Ed25519PublicKey.from_public_bytes(raw) for fp, raw in keys.items()}
    for number, line in lines:
        try:
            seq, hash_, at = int(line["seq"]), str(line["hash"]), str(line["at"])
            verifiers[str(line["key"])].verify(base64.b64decode(str(line["sig"])), _signed_bytes(seq, hash_, at))
        except (KeyError, ValueError, TypeError, InvalidSignature):
            state.problems.append(f"checkpoint line {number} is not signed by the checkpoint key")
            continue
        known = state.claims.setdefault(seq, hash_)
        if known != hash_:
            state.problems.append(f"the checkpoint file holds two different signed hashes for record {seq}: "
                                  "the log was rewritten and anchored again")
    return state
