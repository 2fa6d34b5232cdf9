"""Ranking quick replies as the operator types, and the replies files."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opchat.model import QuickReply
from opchat.replies import (
    STARTER,
    RepliesFileError,
    ReplyDraft,
    ReplyIndex,
    dump_replies,
    dump_replies_csv,
    parse_replies,
    parse_replies_csv,
    rank_replies,
)

BACKENDS = True  # every test on SQLite and on PostgreSQL (tests/conftest.py)


def reply(n: int, shortcut: str, title: str = "", body: str = "text", uses: int = 0):
    return QuickReply(n, shortcut, title or shortcut, body, uses)


REPLIES = [  # in the store's order: most used first
    reply(1, "thanks", "Thanks", "Thank you for writing to us!", 40),
    reply(2, "hello", "Greeting", "Hello! How can I help?", 30),
    reply(3, "dlv-price", "Delivery price", "Delivery costs 300.", 20),
    reply(4, "delivery", "Delivery terms", "We deliver in 1-2 days.", 10),
    reply(5, "del", "Delete account", "Your account is deleted.", 1),
    reply(6, "model", "Models", "We have models for delivery vans.", 0),
    reply(7, "sizes", "Sizes", "Sizes S to XL; the DELIVERY is free.", 0),
]


def shortcuts(found) -> list[str]:
    return [r.shortcut for r in found]


def test_prefix_then_substring_then_words_most_used_first_in_each() -> None:
    # "del": exact shortcut, then shortcuts starting with it (most used first), then
    # containing it, then title and body words starting with it.
    assert shortcuts(rank_replies(REPLIES, "del")) == [
        "del", "delivery", "model", "dlv-price", "sizes"]
    assert shortcuts(rank_replies(REPLIES, "/deli")) == ["delivery", "dlv-price", "model",
                                                         "sizes"]


def test_words_must_all_start_words_of_title_or_body() -> None:
    assert shortcuts(rank_replies(REPLIES, "deliver free")) == ["sizes"]
    # "ccount" is inside "account" but starts no word (nor is in a shortcut): no match.
    assert shortcuts(rank_replies(REPLIES, "ccount")) == []
    assert shortcuts(rank_replies(REPLIES, "acc")) == ["del"]
    # Case and letters folded: Russian too.
    ru = [reply(1, "dostavka", "Доставка", "Доставляем ЗА 1–2 дня")]
    assert shortcuts(rank_replies(ru, "доСТАВ за")) == ["dostavka"]


def test_nothing_typed_keeps_the_usage_order_and_limit_cuts() -> None:
    assert shortcuts(rank_replies(REPLIES, "")) == [r.shortcut for r in REPLIES]
    assert shortcuts(rank_replies(REPLIES, "/", limit=2)) == ["thanks", "hello"]
    assert shortcuts(ReplyIndex(REPLIES).search("del", limit=2)) == ["del", "delivery"]


@given(st.lists(st.tuples(st.from_regex(r"[a-z.-]{1,8}", fullmatch=True),
                          st.text(max_size=30), st.integers(0, 100)),
                max_size=30, unique_by=lambda t: t[0]),
       st.text(max_size=6))
def test_ranking_is_a_subset_in_tier_order(items, query) -> None:
    replies = [QuickReply(n, s, "t", body, uses) for n, (s, body, uses) in enumerate(items)]
    replies.sort(key=lambda r: (-r.uses, r.shortcut))
    found = rank_replies(replies, query)
    assert len({r.id for r in found}) == len(found)
    assert all(r in replies for r in found)
    q = query.strip().removeprefix("/").casefold()
    tiers = [0 if r.shortcut.casefold() == q else 1 if r.shortcut.casefold().startswith(q)
             else 2 if q in r.shortcut.casefold() else 3 for r in found]
    assert tiers == sorted(tiers)
    # Every reply whose shortcut starts with the query is found.
    assert {r.id for r in replies if r.shortcut.casefold().startswith(q)} <= {r.id for r in found}


def test_yaml_round_trip_with_folder_owner_attachment() -> None:
    text = ("- shortcut: price\n  title: Price list\n  folder: orders\n  owner: anna\n"
            "  attachment: /srv/price.pdf\n  body: |\n    See the file, {contact.first_name}.\n")
    drafts = parse_replies(text, "r.yaml")
    assert drafts[0].folder == "orders" and drafts[0].owner == "anna"
    assert drafts[0].attachment == "/srv/price.pdf"
    assert drafts[0].body == "See the file, {contact.first_name}."
    assert parse_replies(dump_replies(drafts)) == drafts


def test_csv_round_trip_and_quotes_newlines_commas() -> None:
    drafts = [ReplyDraft("a", "One, two", 'Line 1,\nline 2 "q"', "f")]
    text = dump_replies_csv(drafts)
    assert text.splitlines()[0] == "shortcut,title,body,folder,owner,attachment,variants"
    assert parse_replies_csv(text, "r.csv") == drafts


@pytest.mark.parametrize(("text", "message"), [
    ("title,body\nT,B\n", "r.csv:1: the header has no column shortcut"),
    ("shortcut,title,body,colour\na,T,B,red\n", "unknown column(s) colour"),
    ("shortcut,title,body\na,T,B,extra\n", "r.csv:2: more cells than columns"),
    ("shortcut,title,body\na,T,\n", "r.csv:2: body must be non-empty"),
    ("shortcut,title,body\na,T,B\nA,T,B\n", "r.csv:3: shortcut 'A' appears twice"),
    ('shortcut,title,body\na,"T,B\n', "r.csv"),
])
def test_bad_csv_names_the_line(text: str, message: str) -> None:
    with pytest.raises(RepliesFileError) as caught:
        parse_replies_csv(text, "r.csv")
    assert message in str(caught.value)


def test_the_starter_set_is_valid_and_in_both_languages() -> None:
    assert parse_replies(dump_replies(STARTER)) == STARTER
    titles = " ".join(r.title for r in STARTER)
    for word in ("Приветствие", "Greeting", "Доставка", "Delivery", "Оплата", "Payment",
                 "Возврат", "Returns", "Часы", "hours", "Спасибо", "Thanks"):
        assert word in titles


def test_variants_per_channel_kind_are_read_written_and_chosen() -> None:
    from opchat.replies import (
        RepliesFileError,
        dump_replies,
        dump_replies_csv,
        parse_replies,
        parse_replies_csv,
        reply_text,
    )

    text = (
        "- shortcut: menu\n"
        "  title: Menu\n"
        "  body: 'Reply 1 for prices, 2 for delivery'\n"
        "  variants:\n"
        "    webchat: 'Press a button below, or type 1 or 2'\n"
    )
    [reply] = parse_replies(text)
    assert reply.variants == {"webchat": "Press a button below, or type 1 or 2"}
    assert reply_text(reply, "webchat").startswith("Press a button")
    assert reply_text(reply, "telegram") == "Reply 1 for prices, 2 for delivery"
    assert parse_replies(dump_replies([reply])) == [reply]
    assert parse_replies_csv(dump_replies_csv([reply])) == [reply]  # JSON in the cell
    for bad in ("    webchat: ''\n", "    'Not A Kind!': text\n"):
        with pytest.raises(RepliesFileError, match="variants"):
            parse_replies(text.split("    webchat")[0] + bad)
