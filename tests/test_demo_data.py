"""The synthetic demo data: files, determinism, and the planted statistics of SPEC.md §5."""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from fiqa_gui.core.demo import generate_demo, generate_embeddings_only
from fiqa_gui.core.demo.degrade import DEGRADERS, degrade
from fiqa_gui.core.demo.generate import COLUMNS, embed_specs, render_spec
from fiqa_gui.core.demo.scenarios import SCENARIOS, allocate, plan_dataset
from fiqa_gui.core.errors import Cancelled
from fiqa_gui.core.progress import CancelToken

N_CLUSTERS = 20


class Demo:
    def __init__(self, root: Path) -> None:
        self.root = root
        with open(root / "manifest.csv", encoding="utf-8", newline="") as fh:
            self.rows = list(csv.DictReader(fh))
        self.x = np.load(root / "embeddings.npy")
        self.clusters: dict[str, list[int]] = defaultdict(list)
        for i, r in enumerate(self.rows):
            self.clusters[r["cluster"]].append(i)

    def col(self, name: str) -> np.ndarray:
        return np.array([r[name] for r in self.rows])

    def cluster_kind(self, cluster: str) -> str:
        scen = {self.rows[i]["scenario"] for i in self.clusters[cluster]}
        return "intruder" if "intruder" in scen else scen.pop()

    def of_kind(self, kind: str) -> list[list[int]]:
        return [ix for c, ix in self.clusters.items() if self.cluster_kind(c) == kind]

    def mean_intra(self, ix: list[int]) -> float:
        s = self.x[ix] @ self.x[ix].T
        return float((s.sum() - len(ix)) / (len(ix) * (len(ix) - 1)))

    def cross_identity(self, mask: np.ndarray) -> float:
        ix = np.flatnonzero(mask)
        ident = self.col("true_identity")[ix]
        s = self.x[ix] @ self.x[ix].T
        return float(s[ident[:, None] != ident[None, :]].mean())


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Demo:
    root = tmp_path_factory.mktemp("demo")
    stages = []
    manifest = generate_demo(
        root, seed=3, n_clusters=N_CLUSTERS, progress=lambda d, t, s: stages.append(s)
    )
    assert manifest == root / "manifest.csv"
    assert "Rendering images" in stages and stages[-1] == "Writing files"
    return Demo(root)


def test_files_exist_and_images_decode(demo: Demo) -> None:
    assert list(demo.rows[0].keys()) == list(COLUMNS)
    assert (demo.root / "README.txt").read_text(encoding="utf-8").count("seed: 3") == 1
    assert len({r["cluster"] for r in demo.rows}) == N_CLUSTERS
    for r in demo.rows:
        assert r["path"] == f"images/{r['cluster']}/{Path(r['path']).name}"
        with Image.open(demo.root / r["path"]) as im:
            assert im.size == (112, 112) and im.mode == "RGB"
            assert im.format == ("JPEG" if r["path"].endswith(".jpg") else "PNG")
    assert {r["degradation"] for r in demo.rows} == set(DEGRADERS)


def test_manifest_ground_truth_is_consistent(demo: Demo) -> None:
    assert set(demo.col("scenario")) == set(SCENARIOS)
    q = demo.col("true_quality").astype(float)
    clean = demo.col("degradation") == "none"
    assert np.all(q[clean] == 100.0) and np.all((q[~clean] >= 0) & (q[~clean] < 100))
    other = demo.col("true_identity") != demo.col("cluster")
    assert np.array_equal(other, demo.col("scenario") == "intruder")
    assert set(demo.col("pose")) == {"frontal", "left", "right"}
    assert set(demo.col("expression")) == {"neutral", "smile"}
    assert set(demo.col("lighting")) == {"even", "side", "dim"}
    for ix in demo.of_kind("one_good_many_poor"):
        kinds = [demo.rows[i]["degradation"] for i in ix]
        assert kinds.count("none") == 1 and len(set(kinds)) == 2 and 7 <= len(ix) <= 11
    for ix in demo.of_kind("singleton"):
        assert len(ix) == 1


def test_embeddings_are_unit_float32_rows(demo: Demo) -> None:
    assert demo.x.shape == (len(demo.rows), 512) and demo.x.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(demo.x, axis=1), 1.0, atol=1e-5)


def test_same_seed_same_bytes_whatever_the_workers(tmp_path: Path) -> None:
    a = generate_demo(tmp_path / "a", seed=5, n_clusters=8, workers=2).parent
    b = generate_demo(tmp_path / "b", seed=5, n_clusters=8, workers=1).parent
    c = generate_demo(tmp_path / "c", seed=6, n_clusters=8, workers=1).parent
    for name in ("manifest.csv", "embeddings.npy", "README.txt"):
        assert (a / name).read_bytes() == (b / name).read_bytes()
    images = sorted(p.relative_to(a) for p in (a / "images").rglob("*.*"))
    assert images and all((a / p).read_bytes() == (b / p).read_bytes() for p in images)
    assert (a / "manifest.csv").read_bytes() != (c / "manifest.csv").read_bytes()
    xa, xc = np.load(a / "embeddings.npy"), np.load(c / "embeddings.npy")
    assert xa.shape != xc.shape or not np.array_equal(xa, xc)


def test_cancel_stops_generation(tmp_path: Path) -> None:
    token = CancelToken()

    def progress(done: int, total: int, stage: str) -> None:
        if stage == "Rendering images" and done > 0:
            token.cancel()

    with pytest.raises(Cancelled):
        generate_demo(tmp_path, seed=0, n_clusters=7, progress=progress, cancel=token, workers=1)
    assert not (tmp_path / "manifest.csv").exists()


def test_allocation_keeps_every_scenario() -> None:
    for n in (7, 12, 20, 60, 200):
        counts = allocate(n)
        assert sum(counts.values()) == n and min(counts.values()) >= 1
    assert allocate(60)["mixed"] == 24 and allocate(60)["clean"] == 10


def test_default_plan_size_and_tail() -> None:
    specs = plan_dataset(0, 60)
    assert 1200 <= len(specs) <= 1800
    sizes = np.bincount([int(s.cluster[3:]) for s in specs])[1:]
    assert sizes.max() >= 50 and sizes.min() == 1


# ---------------------------------------------------------------- planted statistics


def test_clean_same_identity_like_a_real_model(demo: Demo) -> None:
    intra = [demo.mean_intra(ix) for ix in demo.of_kind("clean")]
    assert 0.6 <= np.mean(intra) <= 0.8
    assert abs(demo.cross_identity(demo.col("degradation") == "none")) < 0.08


def test_consistent_degraded_clusters_are_tighter_than_clean(demo: Demo) -> None:
    clean = [demo.mean_intra(ix) for ix in demo.of_kind("clean")]
    consistent = [demo.mean_intra(ix) for ix in demo.of_kind("consistent_degraded")]
    assert np.mean(consistent) > np.mean(clean) + 0.03
    assert min(consistent) > max(clean)


def test_good_image_is_the_odd_one_out(demo: Demo) -> None:
    for ix in demo.of_kind("one_good_many_poor"):
        s = demo.x[ix] @ demo.x[ix].T
        mean_to_rest = (s.sum(axis=1) - 1.0) / (len(ix) - 1)
        good = [j for j, i in enumerate(ix) if demo.rows[i]["degradation"] == "none"][0]
        assert mean_to_rest[good] < np.delete(mean_to_rest, good).min()


def test_blur_pulls_identities_together(demo: Demo) -> None:
    q = demo.col("true_quality").astype(float)
    blurred = (demo.col("degradation") == "blur") & (q < 70)
    clean = demo.col("degradation") == "none"
    assert len(set(demo.col("true_identity")[blurred])) >= 2
    assert demo.cross_identity(blurred) > 0.25 > demo.cross_identity(clean) + 0.15


def test_two_blurred_images_closer_than_blurred_and_clean(demo: Demo) -> None:
    specs = plan_dataset(3, N_CLUSTERS)  # the plan behind the demo, row for row
    for ix in demo.of_kind("consistent_degraded"):
        assert all(specs[i].kind == demo.rows[i]["degradation"] != "none" for i in ix)
        # the same photos without the degradation, through the same model
        x_clean = embed_specs([replace(specs[i], kind="none", strength=0.0) for i in ix], seed=3)
        poor_pair = demo.mean_intra(ix)
        assert poor_pair > float((demo.x[ix] @ x_clean.T).mean()) + 0.1


def test_intruders_sit_far_from_their_cluster_centre(demo: Demo) -> None:
    for ix in demo.of_kind("intruder"):
        centre = demo.x[ix].mean(axis=0)
        sims = demo.x[ix] @ (centre / np.linalg.norm(centre))
        intr = np.array([demo.rows[i]["scenario"] == "intruder" for i in ix])
        assert intr.any() and sims[intr].max() < sims[~intr].min()


def test_near_duplicates_are_nearly_identical(demo: Demo) -> None:
    groups: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(demo.rows):
        if r["near_dup_group"]:
            groups[r["near_dup_group"]].append(i)
    assert groups
    for ix in groups.values():
        assert len(ix) >= 3
        s = demo.x[ix] @ demo.x[ix].T
        assert s.min() > 0.95
        assert len({demo.rows[i]["cluster"] for i in ix}) == 1


def test_degraded_images_sit_nearer_the_dataset_mean(demo: Demo) -> None:
    mean = demo.x.mean(axis=0)
    to_mean = demo.x @ (mean / np.linalg.norm(mean))
    q = demo.col("true_quality").astype(float)
    assert to_mean[q < 60].mean() > to_mean[q == 100].mean() + 0.15


# ---------------------------------------------------------------- pixels


def _laplacian_var(img: Image.Image) -> float:
    grey = np.asarray(img.convert("L"), dtype=np.float64)
    return float(ndimage.laplace(grey).var())


def test_blurred_file_is_blurrier_than_its_clean_source(demo: Demo) -> None:
    specs = plan_dataset(3, N_CLUSTERS)
    blurred = [s for s in specs if s.kind == "blur" and s.strength > 0.4][0]
    with Image.open(demo.root / blurred.path) as im:
        on_disk = _laplacian_var(im)
    clean = render_spec(3, replace(blurred, kind="none", strength=0.0))
    assert on_disk < 0.5 * _laplacian_var(clean)


def test_every_degradation_changes_pixels_and_is_pure() -> None:
    spec = plan_dataset(0, 7)[0]
    clean = render_spec(0, replace(spec, kind="none", strength=0.0, source=-1))
    base = np.asarray(clean, dtype=np.float64)
    for kind in DEGRADERS:
        out1 = degrade(clean, kind, 0.8, np.random.default_rng(1))
        out2 = degrade(clean, kind, 0.8, np.random.default_rng(1))
        assert out1.size == clean.size and out1.mode == "RGB"
        assert np.array_equal(np.asarray(out1), np.asarray(out2))
        diff = np.abs(np.asarray(out1, dtype=np.float64) - base).mean()
        assert (diff == 0) == (kind == "none"), kind
    dark = np.asarray(degrade(clean, "underexposed", 1.0, None).convert("L")).mean()
    bright = np.asarray(degrade(clean, "overexposed", 1.0, None).convert("L")).mean()
    assert dark < 0.25 * base.mean() and bright > 220
    noisy = degrade(clean, "noise", 0.8, np.random.default_rng(0))
    assert _laplacian_var(noisy) > _laplacian_var(clean)  # why sharpness alone is fooled


# ---------------------------------------------------------------- scale


def test_embeddings_only_shapes_and_long_tail() -> None:
    rows, x = generate_embeddings_only(20_000, 1_000, dim=64, seed=1)
    assert x.shape == (20_000, 64) and x.dtype == np.float32 and len(rows) == 20_000
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)
    assert set(rows[0]) == set(COLUMNS)
    sizes = np.unique([r["cluster"] for r in rows], return_counts=True)[1]
    assert len(sizes) == 1_000 and sizes.min() >= 1
    assert sizes.max() >= 8 * np.median(sizes)
    rows2, x2 = generate_embeddings_only(20_000, 1_000, dim=64, seed=1)
    assert rows2 == rows and np.array_equal(x, x2)
    # the same model: degraded rows drift together across identities
    kinds = np.array([r["degradation"] for r in rows])
    blur = np.flatnonzero(kinds == "blur")[:300]
    clean = np.flatnonzero(kinds == "none")[:300]
    assert (x[blur] @ x[blur].T).mean() > (x[clean] @ x[clean].T).mean() + 0.1


def test_embeddings_only_tiny_images(tmp_path: Path) -> None:
    rows, _ = generate_embeddings_only(60, 10, dim=32, seed=0, tiny_images_dir=tmp_path)
    for r in rows:
        with Image.open(tmp_path / r["path"]) as im:
            assert im.size == (16, 16) and im.format == "JPEG"
