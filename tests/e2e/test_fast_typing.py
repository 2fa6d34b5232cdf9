"""A fast typist in a real terminal: keys sent in one burst, as a terminal delivers them.

Each test drives `opchat --demo` in tmux at 80×24. A burst is ONE `tmux send-keys`
call, so the app reads every key of it at once, before it has handled the first;
Pilot waits for the app to go idle between keys and cannot show these bugs.
Every wait is for something positive on the screen or in the store.
"""

from __future__ import annotations

from tests.e2e.conftest import Demo, reply_box
from tests.e2e.test_terminal import last_line
from tests.tools import require_tmux

require_tmux()


def test_keys_typed_right_after_enter_go_to_the_dialog_it_opens(demo: Demo) -> None:
    demo.open_first()
    demo.in_list()
    # One burst: move to John, open him, say hello — before any of it is handled.
    demo.burst("Down", "Enter", "hello there")
    screen = demo.wait_for(lambda s: "DE John Carter  demo" in s
                           and reply_box(s) == "hello there")
    assert "Анна" not in screen.splitlines()[0]
    # The draft kept for John is what was typed; Анна's is untouched.
    drafts = demo.wait_for_store(lambda d: d.get("John Carter") == "hello there",
                                 "John's draft")
    assert drafts.get("Анна Смирнова", "") == ""
    # Back to Анна: her reply box is empty.
    demo.in_list()
    demo.burst("Up", "Enter")
    screen = demo.wait_for(lambda s: "DE Анна Смирнова  demo" in s and "Send" in last_line(s))
    assert reply_box(screen) == "Type a message…"


def test_enter_then_text_then_enter_in_one_burst_sends_to_the_dialog_opened(
        demo: Demo) -> None:
    demo.open_first()
    demo.in_list()
    demo.burst("Down", "Enter", "On its way", "Enter")
    screen = demo.wait_for(lambda s: "DE John Carter  demo" in s and "On its way" in s
                           and "You" in s)
    assert reply_box(screen) == "Type a message…"


def test_a_newline_between_fast_letters_stays_where_it_was_typed(demo: Demo) -> None:
    demo.open_first()
    demo.burst("A", "C-j", "B", "M-Enter", "C")
    demo.wait_for(lambda s: reply_box(s) == "A\nB\nC")


def test_typing_in_the_list_goes_whole_to_the_reply_box(demo: Demo) -> None:
    demo.open_first()
    demo.in_list()
    # j and k move in the list only until a letter has gone to the reply box.
    demo.burst("Ok, jump")
    screen = demo.wait_for(lambda s: reply_box(s) == "Ok, jump")
    assert "DE Анна Смирнова  demo" in screen


def test_text_typed_right_after_sending_stays_for_the_next_message(demo: Demo) -> None:
    demo.open_first()
    demo.burst("first", "Enter", "second")
    demo.wait_for(lambda s: "first" in s and "You" in s and reply_box(s) == "second")


def test_a_paste_in_the_list_goes_to_the_reply_box(demo: Demo) -> None:
    demo.open_first()
    demo.in_list()
    demo.paste("Pasted: order 4471 ships today")
    demo.wait_for(lambda s: reply_box(s) == "Pasted: order 4471 ships today"
                  and "Send" in last_line(s))


def test_text_typed_before_ctrl_n_stays_with_its_dialog(demo: Demo) -> None:
    demo.open_first()
    demo.burst("for Anna", "C-n", "for John")
    screen = demo.wait_for(lambda s: "DE John Carter  demo" in s
                           and reply_box(s) == "for John")
    assert "for Anna" not in screen
    demo.wait_for_store(lambda d: d.get("Анна Смирнова") == "for Anna"
                        and d.get("John Carter") == "for John", "both drafts")


def test_keys_typed_while_a_saved_draft_loads_come_after_it(demo: Demo) -> None:
    # A draft kept from an earlier session is read from the store when the dialog
    # opens; keys typed in the same burst as Enter wait for it and follow it.
    demo.open_first()
    demo.in_list()
    demo.burst("Down", "Enter")
    demo.wait_for(lambda s: "DE John Carter  demo" in s and "Send" in last_line(s))
    demo.burst("Dear John")
    demo.wait_for_store(lambda d: d.get("John Carter") == "Dear John", "John's draft")
    demo.quit()
    demo.start()
    demo.wait_for(lambda s: "John Carter" in s and "hub" in s)
    demo.burst("Down", "Enter", ", it ships today")
    demo.wait_for(lambda s: "DE John Carter  demo" in s
                  and reply_box(s) == "Dear John, it ships today")
