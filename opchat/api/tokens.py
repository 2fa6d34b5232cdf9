"""API tokens: made at random, shown once, kept as a SHA-256, checked in constant time."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Iterable
from typing import TypeVar

from opchat.model import API_OPERATOR_PREFIX

PREFIX = "opc_"
NAME = re.compile(r"[A-Za-z0-9_.-]{1,40}")
OPERATOR_PREFIX = API_OPERATOR_PREFIX  # a token's writes are done as the operator "api:NAME"

T = TypeVar("T")


def new_token() -> str:
    """32 random bytes, URL-safe, with a prefix that tells what it is."""
    return PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What the store keeps: a random 32-byte token needs no slow hash."""
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def match(presented: str, tokens: Iterable[T], hash_of: Callable[[T], str]) -> T | None:
    """The token whose hash is the presented token's, compared with every one in
    constant time (no early exit: the time does not tell how close a guess was)."""
    wanted = token_hash(presented)
    found = None
    for token in tokens:
        if hmac.compare_digest(hash_of(token), wanted):
            found = token
    return found
