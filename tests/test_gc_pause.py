"""The collector pause around big builds (`gui.gc_pause`): off while any build runs, on again
(and what was built frozen) only when the last one ends, as it was before the first."""

from __future__ import annotations

import gc
import threading

import pytest

from fiqa_gui.gui.gc_pause import gc_paused, paused
from fiqa_gui.gui.jobs import quiet_import


@pytest.fixture(autouse=True)
def _restore_gc():
    was = gc.isenabled()
    gc.enable()
    yield
    gc.unfreeze()
    (gc.enable if was else gc.disable)()


def test_no_collection_inside_and_built_objects_frozen_after():
    frozen_before = gc.get_freeze_count()
    collections = []

    def watch(phase, _info):
        if phase == "start":
            collections.append(1)

    gc.callbacks.append(watch)
    try:
        with gc_paused():
            assert not gc.isenabled() and paused()
            built = [[i] for i in range(200_000)]  # would start many young collections
            assert not collections
        assert gc.isenabled() and not paused()
        assert gc.get_freeze_count() >= frozen_before + len(built)
    finally:
        gc.callbacks.remove(watch)


def test_nested_and_overlapping_builds_keep_it_off_until_the_last_ends():
    inner_started, outer_may_end = threading.Event(), threading.Event()
    seen = []

    def other_thread():
        with gc_paused(freeze=False):
            inner_started.set()
            outer_may_end.wait(5)
            seen.append(gc.isenabled())
        seen.append(gc.isenabled())

    with gc_paused():
        t = threading.Thread(target=other_thread)
        t.start()
        assert inner_started.wait(5)
        with gc_paused():
            pass
        assert not gc.isenabled()  # the nested block ending does not switch it back on
    assert not gc.isenabled()  # the other thread's build still runs
    outer_may_end.set()
    t.join(5)
    assert seen == [False, True]
    assert gc.isenabled()


def test_a_collector_switched_off_before_stays_off():
    gc.disable()
    with gc_paused():
        pass
    assert not gc.isenabled()


def test_quiet_import_leaves_the_collector_as_it_found_it():
    quiet_import("json", "fractions")
    assert gc.isenabled() and not paused()
