"""Throughput of starting from photos: dlib (detect + 5-point landmarks + chip + descriptor)
and a user TorchScript model of ResNet-50 size on pre-aligned 112×112 crops.

    .venv/bin/python benchmarks/bench_embed.py [--repeats 3] [--photos 40] [--device cpu]

Photos are the real test photos (tests/data/faces) and variants derived from them, copied to a
temporary ImageFolder tree; nothing is downloaded. Each figure is the median of `--repeats`
runs of the same pipeline `fiqa-gui init --model` uses (`embed_photos`, a fresh staging folder
each run, so nothing is resumed). The ResNet-50 is built here (bottleneck blocks 3-4-6-3,
24.6 M parameters with the 512-d embedding head), traced and saved as TorchScript, then
loaded through `open_model` like a user's file.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fiqa_gui.core.ingest.embed.models import open_model  # noqa: E402
from fiqa_gui.core.ingest.embed.pipeline import embed_photos  # noqa: E402
from fiqa_gui.core.ingest.embed.preprocessing import Preprocessing  # noqa: E402
from fiqa_gui.core.ingest.embed.staging import Staging  # noqa: E402
from fiqa_gui.core.ingest.image_folder import read_image_folder  # noqa: E402
from tests.face_photos import PEOPLE, VARIANTS, photo_folder  # noqa: E402


class Bottleneck(torch.nn.Module):
    def __init__(self, cin: int, width: int, stride: int) -> None:
        super().__init__()
        cout = width * 4
        nn = torch.nn
        self.body = nn.Sequential(
            nn.Conv2d(cin, width, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width),
            nn.ReLU(inplace=True), nn.Conv2d(width, cout, 1, bias=False), nn.BatchNorm2d(cout))
        self.skip = (nn.Identity() if stride == 1 and cin == cout else nn.Sequential(
            nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)))

    def forward(self, x):
        return torch.relu(self.body(x) + self.skip(x))


def resnet50_embedder(dim: int = 512) -> torch.nn.Module:
    """ResNet-50 (He et al. 2016) with a 512-d embedding head instead of the classifier."""
    nn = torch.nn
    layers = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True),
              nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for width, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for b in range(blocks):
            layers.append(Bottleneck(cin, width, stride if b == 0 else 1))
            cin = width * 4
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, dim), nn.BatchNorm1d(dim)]
    return nn.Sequential(*layers).eval()


def make_photos(root: Path, n: int) -> Path:
    """≥ n photos: the four portraits × five variants, repeated under new cluster names."""
    base = photo_folder(root / "base")
    out = root / "photos"
    k = 0
    while k < n:
        for p in PEOPLE:
            for v in VARIANTS:
                if k >= n:
                    break
                dst = out / f"{p}_{k // 20}" / f"{v}.jpg"
                dst.parent.mkdir(parents=True, exist_ok=True)
                dst.write_bytes((base / p / f"{v}.jpg").read_bytes())
                k += 1
    return out


def timed_runs(ds, model, root: Path, repeats: int, align: bool, batch: int) -> list[float]:
    times = []
    for r in range(repeats):
        staging = Staging(root / f"staging-{model.kind}-{r}", {"bench": r})
        t0 = time.perf_counter()
        res = embed_photos(ds, model, staging, align=align, batch=batch)
        times.append(time.perf_counter() - t0)
        assert len(res.rows) + len(res.no_face) == len(ds)
        staging.remove()
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--photos", type=int, default=40)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        photos = make_photos(root, args.photos)
        ds = read_image_folder(photos)
        sizes = [Path(p).stat().st_size for p in ds.absolute_paths()]
        print(f"{len(ds)} photos (longer side 320–640 px, median JPEG "
              f"{np.median(sizes) / 1e3:.0f} kB)")

        dlib_model = open_model("dlib")
        t = timed_runs(ds, dlib_model, root, args.repeats, False, args.batch)
        med = statistics.median(t)
        print(f"dlib end to end (read, HOG, landmarks, chip, descriptor): "
              f"{len(ds) / med:.1f} photos/s (median {med:.2f} s for {len(ds)}; runs "
              f"{', '.join(f'{x:.2f}' for x in t)})")

        net = resnet50_embedder()
        params = sum(p.numel() for p in net.parameters())
        ts_path = root / "resnet50.pt"
        torch.jit.trace(net, torch.zeros(2, 3, 112, 112)).save(str(ts_path))
        model = open_model(ts_path, Preprocessing(), args.device)
        t = timed_runs(ds, model, root, args.repeats, False, args.batch)
        med = statistics.median(t)
        print(f"TorchScript ResNet-50 ({params / 1e6:.1f} M parameters), pre-aligned crops "
              f"resized to 112, batch {args.batch}: {len(ds) / med:.1f} photos/s (median "
              f"{med:.2f} s; runs {', '.join(f'{x:.2f}' for x in t)})")
        crops = np.random.default_rng(0).integers(0, 256, (args.batch, 112, 112, 3), np.uint8)
        model.embed(crops)
        forward = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            model.embed(crops)
            forward.append(time.perf_counter() - t0)
        med = statistics.median(forward)
        print(f"  of which the network alone: {args.batch / med:.1f} crops/s "
              f"(median {med * 1e3:.0f} ms per batch of {args.batch})")
        t = timed_runs(ds, model, root, args.repeats, True, args.batch)
        med = statistics.median(t)
        print(f"TorchScript ResNet-50 with --align (dlib HOG + 68 landmarks + ArcFace warp): "
              f"{len(ds) / med:.1f} photos/s (median {med:.2f} s)")
        print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
