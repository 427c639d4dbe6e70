"""Password hashing (scrypt), API tokens (random, stored only as their SHA-256), and the
throttling of failed logins."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SCRYPT_DKLEN = 32
TOKEN_PREFIX = "prt_"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str) -> str:
    """`scrypt$n$r$p$salt$hash`, salt and hash in base64."""
    if not password:
        raise ValueError("password must not be empty")
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=SCRYPT_DKLEN
    )
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


_DUMMY_HASH: list[str] = []


def verify_nobody(password: str) -> bool:
    """The work of a password check for a user that does not exist (or has no password):
    the same scrypt as a real check, against a hash of a random password, so the answer
    takes as long as for a real user and does not tell which usernames exist. Always False."""
    if not _DUMMY_HASH:
        _DUMMY_HASH.append(hash_password(secrets.token_urlsafe(16)))
    verify_password(password, _DUMMY_HASH[0])
    return False


@dataclass(slots=True)
class _Failures:
    count: int = 0
    blocked_until: float = 0.0


class LoginThrottle:
    """Failed logins per username and per client address, with an exponential delay.

    After `free` failures on a key, each further failure blocks that key for `base_s`,
    doubling with every failure up to `max_s`. While either the username or the address is
    blocked, a login is refused before its password is checked, with the seconds left (for
    `Retry-After`). A successful login clears its username's count. At most `max_keys`
    keys are kept (the least recently failed are forgotten first).
    """

    def __init__(
        self,
        *,
        free: int = 5,
        base_s: float = 1.0,
        max_s: float = 900.0,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.free = free
        self.base_s = base_s
        self.max_s = max_s
        self.max_keys = max_keys
        self._clock = clock
        self._keys: OrderedDict[str, _Failures] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def keys(username: str, address: str | None) -> list[str]:
        return [f"user:{username.casefold()}", f"addr:{address or 'unknown'}"]

    def retry_after(self, keys: list[str]) -> float:
        """Seconds until a login on these keys may be tried; 0 when it may now."""
        now = self._clock()
        with self._lock:
            waits = [f.blocked_until - now for k in keys if (f := self._keys.get(k)) is not None]
        return max([0.0, *waits])

    def failed(self, keys: list[str]) -> None:
        now = self._clock()
        with self._lock:
            for key in keys:
                failures = self._keys.pop(key, None) or _Failures()
                failures.count += 1
                over = failures.count - self.free
                if over > 0:
                    delay = min(self.max_s, self.base_s * 2.0 ** min(over - 1, 40))
                    failures.blocked_until = now + delay
                self._keys[key] = failures
            while len(self._keys) > self.max_keys:
                self._keys.popitem(last=False)

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._keys.pop(self.keys(username, None)[0], None)
