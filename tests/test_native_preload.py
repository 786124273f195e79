"""torch's native library loaded with the GIL released (`gui/native_preload`): in a fresh
interpreter, other Python threads run while it loads, and torch imports and computes after."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from fiqa_gui.gui.native_preload import torch_library

SCRIPT = textwrap.dedent("""
    import sys, threading, time
    from fiqa_gui.gui.native_preload import preload_torch, torch_library

    ticks, stop = [], threading.Event()

    def beat():
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    t = threading.Thread(target=beat)
    t.start()
    time.sleep(0.05)
    start = time.perf_counter()
    loaded = preload_torch()
    end = time.perf_counter()
    stop.set()
    t.join()
    during = sum(start < x < end for x in ticks)
    in_maps = str(torch_library()) in open("/proc/self/maps").read()
    imported_early = "torch" in sys.modules
    again = preload_torch()
    import torch
    ok = float(torch.ones(3).sum()) == 3.0
    print(loaded, in_maps, imported_early, again, ok, during, round((end - start) * 1000))
""")


@pytest.mark.skipif(not sys.platform.startswith("linux") or torch_library() is None,
                    reason="needs Linux (/proc/self/maps) and torch's library")
def test_torch_library_loads_while_other_threads_run():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                         check=True, timeout=120).stdout.split()
    loaded, in_maps, imported_early, again, ok, during, ms = out
    assert (loaded, in_maps, imported_early, again, ok) == ("True", "True", "False", "False",
                                                            "True")
    # the load takes ≥ 100 ms; with the GIL held the 1 ms heartbeat would not tick at all
    assert int(during) >= 3, f"{during} heartbeats in {ms} ms"


def test_preload_is_a_no_op_once_torch_is_imported():
    import torch  # noqa: F401

    from fiqa_gui.gui.native_preload import preload_torch

    assert preload_torch() is False
