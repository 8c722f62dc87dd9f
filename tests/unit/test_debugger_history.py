"""The history of stops: where the build is, and which stop is being looked at."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from buildg_dap.debugger.events import Reason, Stop
from buildg_dap.debugger.history import History


def stop(name: str, reason: Reason = Reason.STEP) -> Stop:
    # The result id tells the stops apart; the history never looks inside a stop.
    return Stop(reason, None, result_id=name)


def names(stops: list[Stop]) -> list[str | None]:
    return [s.result_id for s in stops]


def history_of(*ids: str) -> History:
    history = History()
    history.reset(stop(ids[0], Reason.ENTRY))
    for name in ids[1:]:
        history.append(stop(name))
    return history


def where(history: History) -> str | None:
    current = history.current
    return current.result_id if current is not None else None


def is_(*wanted: str) -> Callable[[Stop], bool]:
    return lambda s: s.result_id in wanted


# --- an empty history ---------------------------------------------------------------


def test_an_empty_history_has_nothing_to_show_or_move_to() -> None:
    history = History()
    assert history.stops == []
    assert history.current is None
    assert history.live is None
    assert history.at_live
    assert history.back() is None
    assert history.forward() is None
    assert history.back_to(lambda s: True) is None
    assert history.forward_to(lambda s: True) is None


# --- reset and append ---------------------------------------------------------------


def test_reset_starts_over_at_the_given_stop() -> None:
    history = history_of("a", "b", "c")
    history.back()
    history.reset(stop("x"))
    assert names(history.stops) == ["x"]
    assert where(history) == "x"
    assert history.live is history.current
    assert history.at_live


def test_append_moves_the_view_to_the_new_live_stop() -> None:
    history = history_of("a")
    history.append(stop("b"))
    assert names(history.stops) == ["a", "b"]
    assert where(history) == "b"
    assert history.live is not None and history.live.result_id == "b"
    assert history.at_live


def test_append_on_an_empty_history_starts_it() -> None:
    history = History()
    history.append(stop("a"))
    assert where(history) == "a"
    assert history.at_live


def test_append_while_looking_back_returns_to_live() -> None:
    history = history_of("a", "b")
    history.back()
    history.append(stop("c"))
    assert names(history.stops) == ["a", "b", "c"]
    assert where(history) == "c"
    assert history.at_live


def test_stops_is_a_copy() -> None:
    history = history_of("a", "b")
    history.stops.clear()
    assert names(history.stops) == ["a", "b"]


def test_the_same_stop_object_comes_back() -> None:
    # Going back must show a stop exactly as it was: the very object recorded.
    first = stop("a", Reason.ENTRY)
    history = History()
    history.reset(first)
    history.append(stop("b"))
    assert history.back() is first
    assert history.current is first


# --- back and forward ---------------------------------------------------------------


def test_back_walks_to_the_first_stop_then_stops() -> None:
    history = history_of("a", "b", "c")
    seen = []
    while (got := history.back()) is not None:
        seen.append(got.result_id)
        assert where(history) == got.result_id
        assert not history.at_live
    assert seen == ["b", "a"]
    assert where(history) == "a"
    # live stays where the build is
    assert history.live is not None and history.live.result_id == "c"


def test_forward_walks_back_to_live_then_returns_none() -> None:
    history = history_of("a", "b", "c")
    history.back()
    history.back()
    assert where(history) == "a"
    forward = history.forward()
    assert forward is not None and forward.result_id == "b"
    assert not history.at_live
    forward = history.forward()
    assert forward is not None and forward.result_id == "c"
    assert history.at_live
    # at the live stop: the caller moves the build on
    assert history.forward() is None
    assert where(history) == "c"


def test_back_and_forward_on_a_single_stop() -> None:
    history = history_of("a")
    assert history.back() is None
    assert history.forward() is None
    assert where(history) == "a"
    assert history.at_live


# --- back_to ------------------------------------------------------------------------


def test_back_to_finds_the_nearest_earlier_wanted_stop() -> None:
    history = history_of("a", "bp1", "b", "bp2", "c")
    got = history.back_to(is_("bp1", "bp2"))
    assert got is not None and got.result_id == "bp2"
    assert where(history) == "bp2"
    got = history.back_to(is_("bp1", "bp2"))
    assert got is not None and got.result_id == "bp1"
    assert where(history) == "bp1"


def test_back_to_skips_the_current_stop() -> None:
    history = history_of("a", "bp", "c")
    history.back()
    assert where(history) == "bp"
    got = history.back_to(is_("bp"))
    # nothing wanted before "bp": the first stop
    assert got is not None and got.result_id == "a"


def test_back_to_without_a_wanted_stop_goes_to_the_first() -> None:
    history = history_of("a", "b", "c")
    got = history.back_to(lambda s: False)
    assert got is not None and got.result_id == "a"
    assert where(history) == "a"


def test_back_to_at_the_first_stop_is_none_and_stays() -> None:
    history = history_of("a", "b")
    history.back()
    assert history.back_to(lambda s: True) is None
    assert where(history) == "a"


def test_back_to_from_the_live_stop_when_everything_is_wanted_moves_one() -> None:
    history = history_of("a", "b", "c")
    got = history.back_to(lambda s: True)
    assert got is not None and got.result_id == "b"


def test_back_to_does_not_ask_about_later_stops() -> None:
    history = history_of("a", "b", "c", "d")
    history.back()  # at "c"
    asked: list[str | None] = []

    def wanted(s: Stop) -> bool:
        asked.append(s.result_id)
        return False

    history.back_to(wanted)
    assert "c" not in asked and "d" not in asked
    assert asked[0] == "b"  # nearest first


# --- forward_to ---------------------------------------------------------------------


def test_forward_to_finds_the_next_wanted_stop() -> None:
    history = history_of("a", "bp1", "b", "bp2", "c")
    while history.back() is not None:
        pass
    got = history.forward_to(is_("bp1", "bp2"))
    assert got is not None and got.result_id == "bp1"
    got = history.forward_to(is_("bp1", "bp2"))
    assert got is not None and got.result_id == "bp2"
    assert not history.at_live


def test_forward_to_without_a_wanted_stop_goes_to_live() -> None:
    history = history_of("a", "b", "c")
    history.back()
    history.back()
    got = history.forward_to(lambda s: False)
    assert got is not None and got.result_id == "c"
    assert history.at_live
    # already there: None, so the caller moves the build on
    assert history.forward_to(lambda s: False) is None
    assert history.forward_to(lambda s: True) is None
    assert where(history) == "c"


def test_forward_to_skips_the_current_stop() -> None:
    history = history_of("bp", "b", "c")
    history.back()
    history.back()
    assert where(history) == "bp"
    got = history.forward_to(is_("bp"))
    assert got is not None and got.result_id == "c"


def test_forward_to_may_stop_at_the_live_stop_because_it_is_wanted() -> None:
    history = history_of("a", "b", "bp")
    history.back()
    history.back()
    got = history.forward_to(is_("bp"))
    assert got is not None and got.result_id == "bp"
    assert history.at_live


@pytest.mark.parametrize("start", [0, 1, 2, 3])
def test_back_and_forward_are_inverse(start: int) -> None:
    history = history_of("a", "b", "c", "d")
    for _ in range(3 - start):
        history.back()
    assert where(history) == "abcd"[start]
    before = where(history)
    if history.back() is not None:
        assert history.forward() is not None
    assert where(history) == before
