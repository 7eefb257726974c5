"""Pilot-driven test of the Compare tab's "until decided" queue (``--seeds auto`` in the app).

The stand-in engine (InstantEngine) writes each run at once with a final
accuracy chosen per variant and seed, so the decision is known: the subject
is the tab's choice, its rounds table and plot, and the results screen.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from runfactory import InstantEngine
from textual.widgets import Checkbox, DataTable, Input, Static
from tui_support import focus_with_tab, ready, type_into, wait_all

from kvt_tui.cli import create_app
from kvt_tui.screens.comparison import CompareScreen
from kvt_tui.widgets.compare_view import CompareView
from kvt_tui.widgets.decision_rounds import DecisionRounds

# Seeds 1..8 of each side: the same mean, a little noise; equivalent within ±5 points after a few rounds.
NOISE = {"keras": [0.0, 0.02, -0.01, 0.015, -0.02, 0.01, 0.005, -0.005],
         "tensorflow": [0.01, -0.015, 0.02, 0.0, -0.01, 0.012, -0.004, 0.003]}


async def test_until_decided_trains_in_rounds_shows_each_look_and_stops_at_the_decision(
    tmp_path: Path, screen_text: Callable[[Any], str]
) -> None:
    engine = InstantEngine(lambda cfg: 0.5 + NOISE[cfg.framework][cfg.seed - 1])
    app = create_app(data="sample", runs_dir=tmp_path / "runs", epochs=1, train_fn=engine)
    async with app.run_test(size=(110, 40), notifications=True) as pilot:
        await ready(pilot)
        await pilot.press("v")
        await pilot.pause()
        view = app.query_one(CompareView)
        assert app.query_one("#compare-max-seeds", Input).disabled  # only until decided
        assert not app.query_one(DecisionRounds).display and not app.query_one("#compare-looks", DataTable).display

        await focus_with_tab(pilot, "compare-auto")
        await pilot.press("space")
        await pilot.pause()
        assert app.query_one("#compare-auto", Checkbox).value and view.until_decided()
        assert app.query_one("#compare-seeds", Input).disabled and not app.query_one("#compare-max-seeds", Input).disabled
        # A bad max seeds: said under the row, and g refuses.
        await type_into(pilot, "compare-max-seeds", "2")
        error = app.query_one("#compare-decide-error", Static)
        assert error.display and "max seeds must be a whole number from 3 to 100, got 2" in str(error.render())
        await type_into(pilot, "compare-max-seeds", "6")
        await type_into(pilot, "compare-min-effect", "5")
        assert not error.display
        choice = view.choice()
        assert (choice.seeds, choice.max_seeds, choice.min_effect) == ([1, 2, 3, 4, 5, 6], 6, 5.0)
        # The default variants are keras:relu and tensorflow:crelu: the stand-in draws by framework.
        await pilot.press("escape", "g")
        await wait_all(pilot)

        # Rounds: seed 1 of each, seed 2 of each... up to the round that decided (fewer than 6).
        seeds = [(c.framework, c.seed) for c in engine.calls]
        rounds = len(seeds) // 2
        assert seeds == [(f, s) for s in range(1, rounds + 1) for f in ("keras", "tensorflow")] and 3 <= rounds < 6
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        [pair] = screen.comparison.pairs
        assert pair.decision is not None and (pair.decision.outcome, pair.decision.seeds) == ("equivalent", rounds)
        pairs = screen.query_one("#compare-pairs", DataTable)
        row = [str(c) for c in pairs.get_row_at(0)]
        assert row[4] == f"equivalent at {rounds}" and row[5] == str(pair.seeds_needed)
        assert "are equivalent within ±5 points" in " ".join(screen_text(app).split())

        # Back on the tab: one row per look, the last one the decision, and the plot of the intervals.
        await pilot.press("escape")
        await pilot.pause()
        looks = app.query_one("#compare-looks", DataTable)
        table = [[str(c) for c in looks.get_row_at(i)] for i in range(looks.row_count)]
        assert [r[0] for r in table] == [str(n) for n in range(3, rounds + 1)]
        assert [r[-1] for r in table] == ["open"] * (rounds - 3) + ["equivalent"]
        assert table[0][1] == "tensorflow:crelu - keras:relu" and "%:" in table[0][3]
        plot = app.query_one(DecisionRounds)
        assert plot.display and [lk.seeds for lk in next(iter(plot.looks.values()))] == list(range(3, rounds + 1))
        drawn = plot.series()
        assert drawn["+D"][1] == [5.0, 5.0] and drawn["-D"][1] == [-5.0, -5.0]
        # The interval narrows round by round.
        widths = [hi - lo for hi, lo in zip(drawn["CI vs ±D high"][1], drawn["CI vs ±D low"][1])]
        assert widths == sorted(widths, reverse=True)
        assert "are equivalent within ±5 points" in str(app.query_one("#compare-verdict", Static).render())

        # g again: every run is reused, the same decision, nothing trains.
        calls = len(engine.calls)
        await pilot.press("g")
        await wait_all(pilot)
        assert len(engine.calls) == calls
        assert isinstance(app.screen, CompareScreen) and app.screen.comparison.pairs[0].decision.seeds == rounds
