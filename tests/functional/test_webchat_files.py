"""widget.js and widget.css over real HTTP: validators (ETag, 304) and gzip."""

from __future__ import annotations

import gzip
from pathlib import Path

import aiohttp
import pytest

from opchat.transports.webchat.channel import STATIC
from tests.functional.test_webchat import running_site


@pytest.mark.parametrize("name", ["widget.js", "widget.css"])
async def test_the_widget_files_revalidate_and_go_gzipped(tmp_path: Path, name: str) -> None:
    body = (STATIC / name).read_bytes()
    async with running_site(tmp_path) as site, \
            aiohttp.ClientSession(auto_decompress=False) as raw:
        url = f"{site.base}/{name}"
        async with raw.get(url, headers={"Accept-Encoding": "identity"}) as plain:
            assert plain.status == 200 and await plain.read() == body
            assert "Content-Encoding" not in plain.headers
            etag = plain.headers["ETag"]
            assert "Accept-Encoding" in plain.headers["Vary"]
        async with raw.get(url, headers={"Accept-Encoding": "gzip, deflate, br"}) as zipped:
            assert zipped.status == 200 and zipped.headers["Content-Encoding"] == "gzip"
            data = await zipped.read()
            assert gzip.decompress(data) == body and len(data) < len(body) / 2
            gz_etag = zipped.headers["ETag"]
        assert gz_etag != etag  # another representation, another validator
        for tag, encoding in ((etag, "identity"), (gz_etag, "gzip")):
            async with raw.get(url, headers={"If-None-Match": tag,
                                             "Accept-Encoding": encoding}) as again:
                assert again.status == 304 and await again.read() == b""
                assert again.headers["ETag"] == tag
        async with raw.get(url, headers={"If-None-Match": '"other"',
                                         "Accept-Encoding": "gzip;q=0"}) as changed:
            assert changed.status == 200 and await changed.read() == body


async def test_the_widget_is_small_on_the_wire(tmp_path: Path) -> None:
    """What a visitor's browser downloads before the launcher shows: both files, gzipped."""
    async with running_site(tmp_path) as site, \
            aiohttp.ClientSession(auto_decompress=False) as raw:
        sizes = []
        for name in ("widget.js", "widget.css"):
            async with raw.get(f"{site.base}/{name}",
                               headers={"Accept-Encoding": "gzip"}) as response:
                sizes.append(len(await response.read()))
    print(f"gzipped: widget.js {sizes[0]} + widget.css {sizes[1]} = {sum(sizes)} bytes")
    assert sum(sizes) < 14 * 1024
