"""The whole `fiqa-gui score` command, as a user runs it, beside the published per-image algorithm.

    python benchmarks/bench_score_cli.py --n 1000000      (and --n 200000)

Writes bench_scoring's long-tailed synthetic 512-d embeddings (.npy) and a manifest
(`path,cluster`), runs `fiqa-gui score --manifest --embeddings --out --no-image-cues --timings`
in a fresh process, and reports: the whole process's wall time, its peak RSS (the child's
ru_maxrss, which counts the memory-mapped rows it touched) beside the embeddings' size, its
peak anonymous memory (RssAnon, polled every 0.2 s), where the time went (the command's own
stage timings; "start-up + imports" is the rest), and the ratio to the published SDD
algorithm written plainly (bench_scoring.per_image_reference: a Python loop over images and
repetitions with scipy's W1, timed on `--subset` images in this run and extrapolated to every
image).
"""

from __future__ import annotations

import argparse
import csv
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_scoring import (  # noqa: E402
    add_data_arguments,
    load_average,
    per_image_reference,
    write_from_args,
)


def write_manifest(path: Path, labels: np.ndarray) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "cluster"])
        w.writerows((f"id{c:06d}/img{i:08d}.jpg", f"id{c:06d}") for i, c in enumerate(labels))


def rss_anon_gib(pid: int) -> float:
    """RssAnon of a running process (Linux /proc; 0 elsewhere or once it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return 0.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_arguments(ap)
    ap.add_argument("--subset", type=int, default=2000,
                    help="images the published algorithm is timed on")
    ap.add_argument("--extra", default="", help="more score options, e.g. '--ray local'")
    ap.add_argument("--keep-scores", type=Path, default=None,
                    help="copy the score CSV here (to compare two versions' output)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t = time.perf_counter()
        labels, n_clusters = write_from_args(tmp / "emb.npy", args)
        write_manifest(tmp / "manifest.csv", labels)
        emb_gib = args.n * args.dim * 4 / 2**30
        print(f"{args.n:,} × {args.dim} ({emb_gib:.2f} GiB), {n_clusters:,} clusters, written "
              f"in {time.perf_counter() - t:.0f} s; load {load_average()}", flush=True)
        cmd = [sys.executable, "-m", "fiqa_gui", "score", "--manifest", str(tmp / "manifest.csv"),
               "--embeddings", str(tmp / "emb.npy"), "--out", str(tmp / "scores.csv"),
               "--no-image-cues", "--timings", "-q", *args.extra.split()]
        t = time.perf_counter()
        with open(tmp / "stderr.txt", "w+") as err:
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, text=True)
            anon_gib = 0.0
            while proc.poll() is None:  # anonymous memory (the memory-mapped rows excluded)
                anon_gib = max(anon_gib, rss_anon_gib(proc.pid))
                time.sleep(0.2)
            wall = time.perf_counter() - t
            err.seek(0)
            stderr = err.read()
        if proc.returncode != 0:
            print(stderr)
            return proc.returncode
        if args.keep_scores is not None:
            shutil.copyfile(tmp / "scores.csv", args.keep_scores)
        peak_gib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
        line = next(x for x in stderr.splitlines() if x.startswith("timings:"))
        stages = {k.strip(): float(v) for k, v in re.findall(r"([^,:]+?) ([\d.]+) s", line[8:])}
        stages["start-up + imports"] = max(0.0, wall - sum(stages.values()))
        emb = np.load(tmp / "emb.npy", mmap_mode="r")
        ref = per_image_reference(emb, labels, args.subset)
        scored = int((np.bincount(labels)[labels] >= 2).sum())
        published = ref * scored
        print(f"whole process: {wall:.1f} s; peak RSS {peak_gib:.2f} GiB (embeddings "
              f"{emb_gib:.2f} GiB, +{peak_gib - emb_gib:.2f}); peak anonymous memory "
              f"{anon_gib:.2f} GiB; load {load_average()}")
        kernels = stages.get("sdd", 0) + stages.get("cr", 0)
        for k, v in sorted(stages.items(), key=lambda kv: -kv[1]):
            print(f"  {k:24s} {v:7.2f} s  {100 * v / wall:5.1f} %")
        print(f"outside the kernels (SDD, CR): {wall - kernels:.1f} s "
              f"({100 * (wall - kernels) / wall:.0f} %); largest single other stage "
              f"{max(v for k, v in stages.items() if k not in ('sdd', 'cr')):.1f} s")
        print(f"published algorithm: {ref * 1e3:.2f} ms per image × {scored:,} = "
              f"{published:.0f} s extrapolated; ratio {published / wall:.1f}×")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
