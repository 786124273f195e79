"""Review-window benchmark: 100,000 images in 5,000 clusters (one of 5,000 images).

    .venv/bin/python benchmarks/bench_gui.py [--folder DIR] [--runs 3] [--json FILE]

Builds the project once (tiny 32×32 JPEGs, random embeddings and scores; cached in --folder),
then measures, each in a fresh process, offscreen:

- time to an interactive window (process start → window shown and the event loop turning), and
  to the project on screen (cluster list filled, first cluster's tiles painted);
- switching to the 5,000-image cluster until its first screen of tiles is painted (cold: no
  thumbnail in memory; warm: back to it later);
- thumbnails per second decoded from JPEG through the loader (its worker threads) and on one
  thread;
- the longest GUI-thread stall while thumbnails stream in and the user scrolls (a 5 ms QTimer
  heartbeat: the largest gap beyond its interval);
- peak memory (max RSS).

Targets (issue 4): interactive < 2 s, cluster switch to first painted screen < 150 ms, GUI thread
never blocked > 50 ms. This is a benchmark, not a test: it prints figures and never fails.
"""

from __future__ import annotations

import time

T_START = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

N_IMAGES = 100_000
N_CLUSTERS = 5_000
BIG = 5_000
TMP = Path(os.environ.get("TMPDIR", "/tmp"))


def default_folder(n_images: int, n_clusters: int, big: int) -> Path:
    if (n_images, n_clusters, big) == (N_IMAGES, N_CLUSTERS, BIG):
        return TMP / "fiqa-bench-gui"
    return TMP / f"fiqa-bench-gui-{n_images}-{n_clusters}-{big}"


# ----------------------------------------------------------------------------- building
def cluster_sizes(rng, n_images: int = N_IMAGES, n_clusters: int = N_CLUSTERS,
                  big: int = BIG) -> list[int]:
    """One `big`-image cluster; the rest 2–36 images (scaled), summing to `n_images`."""
    import numpy as np

    rest = n_images - big
    if n_clusters < 2 or rest < 2 * (n_clusters - 1):
        raise SystemExit(f"{n_images} images cannot make {n_clusters} clusters with one of "
                         f"{big} and the rest of at least 2")
    sizes = rng.integers(2, 37, n_clusters - 1).astype(float)
    sizes = np.maximum(2, np.round(sizes * rest / sizes.sum())).astype(int)
    diff = rest - int(sizes.sum())
    k = 0
    while diff != 0:
        step = 1 if diff > 0 else -1
        if sizes[k % len(sizes)] + step >= 2:
            sizes[k % len(sizes)] += step
            diff -= step
        k += 1
    return [big, *sizes.tolist()]


def _write_jpegs(job: tuple) -> int:
    """Write the JPEGs of clusters [c0, c1) (a worker process); skip files already there."""
    import numpy as np
    from PIL import Image

    data, c0, sizes, bases = job
    noise = np.random.default_rng(0).integers(-40, 40, (64, 32, 32, 3))
    for k, n in enumerate(sizes):
        c = c0 + k
        folder = Path(data) / "images" / f"c{c:05d}"
        folder.mkdir(parents=True, exist_ok=True)
        for j in range(n):
            f = folder / f"{j:05d}.jpg"
            if not f.exists():
                px = np.clip(bases[k] + noise[(c * 7 + j) % 64], 0, 255).astype(np.uint8)
                Image.fromarray(px).save(f, quality=80)
    return int(sum(sizes))


def build(folder: Path, n_images: int = N_IMAGES, n_clusters: int = N_CLUSTERS,
          big: int = BIG, workers: int | None = None) -> Path:
    """The project in `folder`/project, built once; the JPEGs, manifest and embeddings in
    `folder`/data are kept apart, so deleting project/ rebuilds only the project."""
    import csv
    from concurrent.futures import ProcessPoolExecutor

    import numpy as np

    from fiqa_gui.core.ingest.loading import load_data
    from fiqa_gui.core.progress import StderrProgressBar
    from fiqa_gui.core.store import Project

    project_dir = folder / "project"
    if (project_dir / "project.sqlite").is_file():
        return project_dir
    t0 = time.perf_counter()
    rng = np.random.default_rng(0)
    data = folder / "data"
    sizes = cluster_sizes(rng, n_images, n_clusters, big)
    bases = rng.integers(40, 215, (len(sizes), 3))
    bar = StderrProgressBar()
    if not (data / "manifest.csv").is_file():
        chunk = 500
        jobs = [(str(data), c0, sizes[c0:c0 + chunk], bases[c0:c0 + chunk])
                for c0 in range(0, len(sizes), chunk)]
        done = 0
        with ProcessPoolExecutor(workers or os.cpu_count() or 1) as pool:
            for written in pool.map(_write_jpegs, jobs):
                done += written
                bar(done, n_images, "writing JPEGs")
        with open(data / "manifest.csv.part", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["path", "cluster"])
            for c, n in enumerate(sizes):
                w.writerows((f"images/c{c:05d}/{j:05d}.jpg", f"c{c:05d}") for j in range(n))
        np.save(data / "embeddings.npy",
                np.random.default_rng(1).normal(size=(n_images, 128)).astype(np.float32))
        os.replace(data / "manifest.csv.part", data / "manifest.csv")
    print(f"JPEGs ready in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    loaded = load_data(manifest=data / "manifest.csv", embeddings=data / "embeddings.npy",
                       check_images=False, progress=bar)
    with Project.create(project_dir, loaded, progress=bar) as project:
        cols = {"sdd": rng.uniform(0, 100, n_images), "cr": rng.uniform(0, 0.8, n_images),
                "iq": rng.uniform(0, 100, n_images)}
        cols["sdd_signed"] = cols["sdd"]
        flags = [["identity_suspect"] if u < 0.03 else [] for u in rng.random(n_images)]
        project.add_run("score", {"seed": 0, "repeats": 12, "positives": 24, "negatives": 24,
                                  "exact": False, "benchmark": True}, cols, flags,
                        device="cpu", seed=0, duration_s=0.0)
    print(f"built {project_dir} in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return project_dir


# ----------------------------------------------------------------------------- measuring
def measure(project_dir: Path) -> dict:
    """One run in this (fresh) process; returns the figures in seconds / MB."""
    import resource

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QElapsedTimer, QEventLoop, Qt, QTimer

    from fiqa_gui.gui.app import _application
    from fiqa_gui.gui.main_window import MainWindow
    from fiqa_gui.gui.settings import AppSettings
    from fiqa_gui.gui.thumbnail_loader import ThumbnailLoader, decode_thumbnail

    out: dict = {}
    app = _application(None)
    settings = AppSettings.at(project_dir.parent / "bench-settings.ini")
    settings.qsettings.clear()
    w = MainWindow(settings)  # as the app runs: device detection + heavy imports in background
    w.jobs.show_dialogs = False
    w.resize(1600, 1000)
    w.show()
    app.processEvents()
    out["interactive_s"] = time.perf_counter() - T_START

    def spin_until(pred, timeout_s=60.0) -> None:
        """Run the event loop as app.exec() would (sleeping when idle) until `pred()`."""
        end = time.perf_counter() + timeout_s
        poll = QTimer()
        poll.setInterval(20)
        poll.start()
        while not pred():
            app.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents)
            if time.perf_counter() > end:
                raise TimeoutError("benchmark step did not finish")
        poll.stop()

    startup_gaps = []
    startup_last = [time.perf_counter()]

    def startup_tick() -> None:
        now = time.perf_counter()
        startup_gaps.append(now - startup_last[0])
        startup_last[0] = now

    startup_beat = QTimer()
    startup_beat.setInterval(5)
    startup_beat.setTimerType(Qt.TimerType.PreciseTimer)
    startup_beat.timeout.connect(startup_tick)
    startup_beat.start()
    painted = []
    w.gallery.view.painted.connect(lambda: painted.append(time.perf_counter()))
    opened = []
    w.project_opened.connect(lambda rv: opened.append(rv))
    t0 = time.perf_counter()
    w.open_project(project_dir)
    spin_until(lambda: bool(opened))
    out["project_load_s"] = time.perf_counter() - t0
    painted.clear()
    spin_until(lambda: bool(painted))
    out["project_on_screen_s"] = painted[0] - T_START

    spin_until(lambda: getattr(w, "warmed_up", False) and w.loader.idle())
    out["warm_up_done_s"] = time.perf_counter() - T_START
    startup_beat.stop()
    out["startup_max_stall_ms"] = max(0.0, max(startup_gaps) - 0.005) * 1000
    rv = w.review
    big = int(max(range(len(rv.summaries)), key=lambda c: rv.summaries.sizes[c]))
    small = [c for c in range(len(rv.summaries)) if c != big][:6]

    def switch(c: int) -> float:
        painted.clear()
        t = time.perf_counter()
        assert w.clusters.select_cluster(c)
        spin_until(lambda: bool(painted))
        return painted[0] - t

    w.loader.clear_memory()
    switch(small[0])
    out["switch_big_cold_s"] = switch(big)
    warm = []
    for c in small[1:4]:
        switch(c)
        warm.append(switch(big))
    out["switch_big_warm_s"] = statistics.median(warm)
    out["switch_small_s"] = statistics.median(switch(c) for c in small[1:])

    # GUI-thread stall while thumbnails stream in and the user scrolls the big cluster
    w.loader.clear_memory()
    switch(big)
    gaps = []
    busy = []  # GUI-thread CPU time within each gap: our own work, not waiting for a core
    last = [time.perf_counter(), time.thread_time()]
    beat = QTimer()
    beat.setInterval(5)
    beat.setTimerType(Qt.TimerType.PreciseTimer)

    def tick() -> None:
        now, cpu = time.perf_counter(), time.thread_time()
        gaps.append(now - last[0])
        busy.append(cpu - last[1])
        last[0], last[1] = now, cpu

    beat.timeout.connect(tick)
    import gc

    gc_pauses = []
    gc_t = [0.0]

    def on_gc(phase, info):
        if phase == "start":
            gc_t[0] = time.perf_counter()
        else:
            gc_pauses.append((time.perf_counter() - gc_t[0], info.get("generation"),
                              time.thread_time()))

    gc.callbacks.append(on_gc)
    beat.start()
    sb = w.gallery.view.verticalScrollBar()
    clock = QElapsedTimer()
    clock.start()
    scroller = QTimer()
    scroller.setInterval(40)  # a page every 40 ms: a fast, steady scroll
    scroller.timeout.connect(lambda: sb.setValue(sb.value() + sb.pageStep()))
    scroller.start()
    spin_until(lambda: sb.value() >= sb.maximum() or clock.elapsed() > 20000)
    scroller.stop()
    spin_until(w.loader.idle)
    beat.stop()
    gc.callbacks.remove(on_gc)
    out["max_gc_pause_ms"] = max((p[0] for p in gc_pauses), default=0.0) * 1000
    big_gaps = sorted(gaps)[-5:]
    print("largest gaps ms", [round(g * 1000, 1) for g in big_gaps], "their CPU ms",
          [round(busy[gaps.index(g)] * 1000, 1) for g in big_gaps], "gc pauses ms",
          sorted((round(p[0] * 1000, 1), p[1]) for p in gc_pauses)[-5:],
          "gen2 count", sum(1 for p in gc_pauses if p[1] == 2), file=sys.stderr)
    out["scroll_pages"] = int(sb.maximum() / max(1, sb.pageStep()))
    out["max_gui_stall_ms"] = max(0.0, (max(gaps) - 0.005)) * 1000 if gaps else float("nan")
    out["p99_gui_stall_ms"] = max(0.0, (sorted(gaps)[int(len(gaps) * 0.99)] - 0.005)) * 1000
    out["max_gui_busy_ms"] = max(busy) * 1000 if busy else float("nan")

    # thumbnails per second: the loader's worker threads, and one thread alone
    ids = rv.index.members(big)
    paths = [str(rv.dataset.absolute_path(int(i))) for i in ids]
    loader = ThumbnailLoader(None, max_pending=len(ids) + 1)
    loader.set_display_size(112)
    t = time.perf_counter()
    for i, p in zip(ids.tolist(), paths, strict=True):
        loader.get(i, p)
    spin_until(loader.idle)
    out["thumbs_per_s_loader"] = len(ids) / (time.perf_counter() - t)
    out["loader_threads"] = loader.pool.maxThreadCount()
    loader.shutdown()
    t = time.perf_counter()
    for p in paths[:2000]:
        decode_thumbnail(p, 128)
    out["thumbs_per_s_one_thread"] = 2000 / (time.perf_counter() - t)

    w.close()
    app.processEvents()
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


FIGURES = (
    ("interactive_s", "window interactive (process start → event loop)", "s", 2.0),
    ("project_on_screen_s", "project on screen (process start → tiles painted)", "s", None),
    ("project_load_s", "  of which: loading the project (worker thread)", "s", None),
    ("warm_up_done_s", "background imports done (torch, scipy: first similarity picture)", "s",
     None),
    ("startup_max_stall_ms", "longest GUI-thread stall during startup (incl. torch import)",
     "ms*", None),
    ("switch_big_cold_s", "switch to the big cluster, first screen painted (cold)", "ms",
     0.150),
    ("switch_big_warm_s", "switch to the big cluster, first screen painted (warm)", "ms",
     0.150),
    ("switch_small_s", "switch to a small cluster, first screen painted", "ms", 0.150),
    ("max_gui_stall_ms", "longest GUI-thread stall while thumbnails stream + scrolling", "ms*",
     50.0),
    ("p99_gui_stall_ms", "99th percentile GUI-thread stall (5 ms heartbeat)", "ms*", None),
    ("max_gui_busy_ms", "longest GUI-thread CPU burst between two heartbeats", "ms*", None),
    ("thumbs_per_s_loader", "thumbnails/s decoded from JPEG (loader, all worker threads)", "/s",
     None),
    ("thumbs_per_s_one_thread", "thumbnails/s decoded from JPEG (one thread)", "/s", None),
    ("peak_rss_mb", "peak memory (max RSS)", "MB", None),
)


def report(runs: list[dict]) -> str:
    lines = [f"{'figure':66s} {'median':>10s}   target", "-" * 88]
    for key, label, unit, target in FIGURES:
        value = statistics.median(r[key] for r in runs)
        if unit == "ms":
            shown, tgt = f"{value * 1000:8.1f} ms", (f"< {target * 1000:.0f} ms" if target else "")
        elif unit == "ms*":
            shown, tgt = f"{value:8.1f} ms", (f"< {target:.0f} ms" if target else "")
        elif unit == "s":
            shown, tgt = f"{value:8.2f} s ", (f"< {target:.0f} s" if target else "")
        elif unit == "/s":
            shown, tgt = f"{value:8.0f}/s ", ""
        else:
            shown, tgt = f"{value:8.0f} MB", ""
        lines.append(f"{label:66s} {shown}   {tgt}")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=N_IMAGES, help="images (default 100,000)")
    ap.add_argument("--clusters", type=int, default=N_CLUSTERS, help="clusters (default 5,000)")
    ap.add_argument("--big", type=int, default=BIG,
                    help="images in the one big cluster (default 5,000)")
    ap.add_argument("--folder", type=Path, default=None,
                    help="where the project is built and cached (default: under $TMPDIR, "
                    "one folder per size)")
    ap.add_argument("--workers", type=int, default=None,
                    help="processes writing the JPEGs (default: all cores)")
    ap.add_argument("--build-only", action="store_true", help="build (or reuse) and stop")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json", type=Path, default=None, help="also write the raw runs here")
    ap.add_argument("--measure-once", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    folder = args.folder or default_folder(args.images, args.clusters, args.big)
    project_dir = folder / "project"
    if args.measure_once:
        print(json.dumps(measure(project_dir)))
        return 0
    build(folder, args.images, args.clusters, args.big, args.workers)
    if args.build_only:
        return 0
    runs = []
    for k in range(args.runs):
        r = subprocess.run([sys.executable, __file__, "--folder", str(folder),
                            "--measure-once"], capture_output=True, text=True, check=False)
        if r.returncode != 0:
            print(r.stderr, file=sys.stderr)
            return 1
        runs.append(json.loads(r.stdout.strip().splitlines()[-1]))
        print(f"run {k + 1}: " + ", ".join(f"{key}={v:.3g}" for key, v in runs[-1].items()),
              file=sys.stderr)
    print(f"{args.images:,} images, {args.clusters:,} clusters (largest {args.big:,}); "
          f"{len(runs)} runs, medians; {os.cpu_count()} CPU cores")
    print(report(runs))
    if args.json:
        args.json.write_text(json.dumps(runs, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
