"""What every channel shares: secret files and webhook signatures."""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
from pathlib import Path

import pytest

from opchat.transports.files import load_secret, same_secret, signed_by


def test_a_secret_is_made_once_private_and_kept(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        first = load_secret(tmp_path / "x.secret", tmp_path)
    finally:
        os.umask(old)
    assert len(first) >= 32 and load_secret(tmp_path / "x.secret", tmp_path) == first
    assert stat.S_IMODE((tmp_path / "x.secret").stat().st_mode) == 0o600


@pytest.mark.parametrize("text", ["short", "x" * 40 + " with spaces", "ключ" * 10])
def test_a_damaged_secret_file_is_refused_not_used(tmp_path: Path, text: str) -> None:
    (tmp_path / "x.secret").write_text(text)
    with pytest.raises(ValueError, match="not a usable secret; delete it"):
        load_secret(tmp_path / "x.secret", tmp_path)


def test_secrets_compare_whole() -> None:
    assert same_secret("abc", "abc") and same_secret("abc", b"abc")
    assert not same_secret("abd", "abc") and not same_secret("", "abc")
    assert not same_secret("ab\udc80", "abc")  # a header that is not even valid text


def test_a_signature_is_the_hmac_of_the_raw_body() -> None:
    body = b'{"object":"whatsapp_business_account","entry":[]}'
    good = "sha256=" + hmac.new(b"app-secret", body, hashlib.sha256).hexdigest()
    assert signed_by("app-secret", body, good)
    assert signed_by("app-secret", body, good.upper().replace("SHA256=", "sha256="))
    assert not signed_by("other-secret", body, good)
    assert not signed_by("app-secret", body + b" ", good)
    for wrong in (None, "", good.removeprefix("sha256="), "sha1=" + good[7:]):
        assert not signed_by("app-secret", body, wrong)
