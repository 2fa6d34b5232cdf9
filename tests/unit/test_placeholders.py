"""Variables in quick replies: filled once, untrusted values kept literal."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from opchat.placeholders import expand, find_slots, plain_value, reply_values, unfilled_slots


def test_known_values_are_filled_and_missing_ones_reported_where_they_are() -> None:
    values = {"contact.first_name": "Ivan", "operator.name": "Anna"}
    out = expand("Hi {contact.first_name}, I'm {operator.name}. Order {order.number}?", values)
    assert out.text == "Hi Ivan, I'm Anna. Order {order.number}?"
    [slot] = out.unfilled
    assert out.text[slot.start:slot.end] == "{order.number}" and slot.name == "order.number"


def test_braces_that_are_not_variables_stay_text() -> None:
    text = 'JSON {"a": 1}, empty {}, spaced { x }, digit {1}'
    assert expand(text, {}).text == text and not expand(text, {}).unfilled
    assert find_slots(text) == []


def test_an_untrusted_name_is_inserted_literally_and_never_expanded_again() -> None:
    name = "{operator.name} [bold]Eve[/] \x1b[31m\u202e"
    values = reply_values(contact_name=name, operator_name="Anna", conversation_id=7,
                          channel_name="shop", now=0)
    out = expand("Hello {contact.name}! — {operator.name} #{conversation.id} {channel.name}",
                 values)
    assert out.text == "Hello {operator.name} [bold]Eve[/] [31m! — Anna #7 shop"
    assert out.unfilled == ()
    # The literal braces that came from the name are not "unfilled": the name is known.
    assert unfilled_slots(out.text, values) == []
    assert values["contact.first_name"] == "{operator.name}"


def test_values_are_one_line_without_controls() -> None:
    assert plain_value("Ann\nSmith\t\x07\u200b ") == "Ann Smith"
    assert plain_value("👨\u200d👩\u200d👧") == "👨\u200d👩\u200d👧"  # the joiner stays


def test_contact_fields_dates_and_missing_values() -> None:
    values = reply_values(contact_name="", contact_fields={"phone": "+7 900", "city": "Казань",
                                                          "nested": {"x": 1}, "bad key": "v"},
                          operator_login="anna", now=86400 * 365)
    assert values["contact.phone"] == "+7 900" and values["contact.city"] == "Казань"
    assert "contact.nested" not in values and "contact.bad key" not in values
    assert "contact.name" not in values and "contact.first_name" not in values
    assert "operator.name" not in values  # a login name is not a name customers see
    assert set(values) >= {"date", "time"}
    assert [s.name for s in unfilled_slots("Hi {contact.first_name} at {time}", values)] == [
        "contact.first_name"]


@given(st.text(), st.dictionaries(st.sampled_from(["a", "b.c", "contact.name"]), st.text()))
def test_expansion_is_one_pass(template: str, values: dict[str, str]) -> None:
    out = expand(template, values)
    for slot in out.unfilled:
        assert out.text[slot.start:slot.end] == "{" + slot.name + "}"
    # Filling what is left with anything never touches what was filled before.
    again = expand(out.text, {})
    assert again.text == out.text
