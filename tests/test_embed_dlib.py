"""Photos → a project with dlib: detection (largest face, count), dlib's own chip and descriptor,
identity kept across derived variants, no-face reporting, resuming, bad input (exit 2)."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from PIL import Image

from fiqa_gui.cli import main
from tests.face_photos import FACES, PEOPLE, VARIANTS, photo, photo_folder

dlib = pytest.importorskip("dlib")
pytest.importorskip("onnxruntime")  # the CI installs both extras; see the Makefile

from fiqa_gui.core.errors import Cancelled  # noqa: E402
from fiqa_gui.core.ingest.embed.detection import FaceFinder  # noqa: E402
from fiqa_gui.core.ingest.embed.extras import dlib_model_file  # noqa: E402
from fiqa_gui.core.photo_project import PhotoOptions, create_project_from_photos  # noqa: E402
from fiqa_gui.core.progress import CancelToken  # noqa: E402
from fiqa_gui.core.store import Project  # noqa: E402


def _rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def dlib_project(tmp_path_factory):
    """Uncropped photos (4 people × 5 variants, the group photo, a photo without a face) →
    `init --model dlib` → `score`: the issue's 'done when', built once for the module."""
    root = tmp_path_factory.mktemp("dlib")
    photos = photo_folder(root / "photos")
    (photos / "group").mkdir()
    Image.open(FACES / "multiface.jpg").save(photos / "group" / "multiface.jpg")
    Image.new("RGB", (160, 120), (128, 140, 150)).save(photos / "group" / "wall.jpg")
    proj = root / "proj"
    assert main(["init", str(proj), "--images", str(photos), "--model", "dlib", "-q"]) == 0
    assert main(["score", str(proj), "--out", str(root / "scores.csv"), "-q"]) == 0
    return {"photos": photos, "proj": proj, "scores": root / "scores.csv"}


def test_init_then_score_gives_a_scored_project_from_uncropped_photos(dlib_project):
    proj = dlib_project["proj"]
    rows = _rows(proj / "crops.csv")
    assert len(rows) == len(PEOPLE) * len(VARIANTS) + 1   # the wall photo has no face
    scores = _rows(dlib_project["scores"])
    assert [r["path"] for r in scores] == [r["path"] for r in rows]   # score --out order
    with Project.open(proj, read_only=True) as p:
        emb = p.embeddings()
        assert emb.shape == (len(rows), 128)
        run = p.latest_run("score")
        assert run is not None
        s = p.scores(run.id)
        ds = p.dataset()
        people = np.array([c != "group" for c in ds.clusters])   # "group" is a singleton
        assert np.isfinite(s["sdd"][people]).all() and np.isfinite(s["quality"][people]).all()
        # the gallery shows the aligned crops, kept in the project; the photo is an attribute
        assert all(ds.absolute_path(i).is_file() and str(ds.absolute_path(i)).startswith(
            str(proj)) for i in range(len(ds)))
        assert ds.attributes["source_path"][0].endswith("angelina_jolie/blur.jpg")
        embed_run = p.latest_run("embed")
        norms = p.scores(embed_run.id)["embedding_norm"]
        np.testing.assert_allclose(norms, np.linalg.norm(np.asarray(emb), axis=1), rtol=1e-5)
    no_face = _rows(proj / "no_face.csv")
    assert [r["path"] for r in no_face] == ["group/wall.jpg"]
    assert not list(proj.parent.glob(".proj.photos-*"))   # the staging folder is gone


def test_multiface_yields_six_faces_and_keeps_the_largest(dlib_project):
    img = np.asarray(Image.open(FACES / "multiface.jpg").convert("RGB"))
    found = FaceFinder().find(img)
    assert found.faces_in_photo == 6
    rects = dlib.get_frontal_face_detector()(img, 0)
    assert len(rects) == 6
    assert found.rect.width() * found.rect.height() == max(r.width() * r.height() for r in rects)
    areas = sorted(r.width() * r.height() for r in rects)
    assert areas[-1] > areas[-2]   # the largest is unique, so "kept the largest" is decided
    row = next(r for r in _rows(dlib_project["proj"] / "crops.csv") if r["cluster"] == "group")
    assert row["faces_in_photo"] == "6"


def test_project_embedding_equals_a_direct_dlib_call_on_the_same_chip(dlib_project):
    detector = dlib.get_frontal_face_detector()
    sp = dlib.shape_predictor(str(dlib_model_file("landmarks_5")))
    net = dlib.face_recognition_model_v1(str(dlib_model_file("descriptor")))
    proj = dlib_project["proj"]
    rows = _rows(proj / "crops.csv")
    with Project.open(proj, read_only=True) as p:
        emb = np.asarray(p.embeddings())
    for name in PEOPLE:
        k = next(i for i, r in enumerate(rows) if r["path"] == f"crops/{name}/orig.png")
        img = np.asarray(Image.open(rows[k]["source_path"]).convert("RGB"))
        face = max(detector(img, 0), key=lambda r: r.area())
        chip = dlib.get_face_chip(img, sp(img, face), size=150, padding=0.25)
        direct = np.asarray(net.compute_face_descriptor(img, sp(img, face)))  # dlib's own way
        np.testing.assert_allclose(emb[k], direct, atol=1e-6)
        stored = np.asarray(Image.open(proj / rows[k]["path"]))
        np.testing.assert_array_equal(stored, chip)   # the crop shown is the chip embedded


def test_variants_of_one_person_are_nearer_each_other_than_other_people(dlib_project):
    rows = _rows(dlib_project["proj"] / "crops.csv")
    with Project.open(dlib_project["proj"], read_only=True) as p:
        emb = np.asarray(p.embeddings())
    keep = [i for i, r in enumerate(rows) if r["cluster"] in PEOPLE]
    x, who = emb[keep], np.array([rows[i]["cluster"] for i in keep])
    d = np.linalg.norm(x[:, None] - x[None], axis=2)
    same = who[:, None] == who[None]
    np.fill_diagonal(same, False)
    other = who[:, None] != who[None]
    for i in range(len(keep)):
        assert d[i][same[i]].max() < d[i][other[i]].min(), rows[keep[i]]["path"]
    assert d[same].max() < 0.6 <= d[other].min()   # dlib's documented same-person threshold


def test_tight_crops_and_small_chips_are_found_by_padding_or_upsampling():
    finder = FaceFinder()
    sp = dlib.shape_predictor(str(dlib_model_file("landmarks_5")))
    for name in PEOPLE:
        img = np.asarray(photo(name))
        face = finder.find(img)
        chip = dlib.get_face_chip(face.image, sp(face.image, face.rect), size=64, padding=0.1)
        r = face.rect
        tight = np.ascontiguousarray(img[max(0, r.top()):r.bottom(), max(0, r.left()):r.right()])
        for small in (chip, tight):
            got = finder.find(small)
            assert got is not None and got.faces_in_photo == 1, name


def test_a_cancelled_run_resumes_where_it_stopped(tmp_path):
    photos = photo_folder(tmp_path / "photos", people=PEOPLE[:2], variants=("orig", "flip"))
    token = CancelToken()

    def cancel_after_two(done, total, stage):
        if stage == "embedding photos" and done >= 2:
            token.cancel()

    with pytest.raises(Cancelled):
        create_project_from_photos(tmp_path / "p", images=photos, options=PhotoOptions(),
                                   progress=cancel_after_two, cancel=token)
    assert not (tmp_path / "p").exists()
    staged = list(tmp_path.glob(".p.photos-*/chunks/*.npz"))
    assert staged, "the finished photos were not kept"
    summary = create_project_from_photos(tmp_path / "p", images=photos)
    assert summary.resumed == 2 and summary.embedded == 4
    fresh = create_project_from_photos(tmp_path / "q", images=photos)
    assert fresh.resumed == 0
    with Project.open(tmp_path / "p", read_only=True) as a, \
            Project.open(tmp_path / "q", read_only=True) as b:
        np.testing.assert_array_equal(np.asarray(a.embeddings()), np.asarray(b.embeddings()))
        assert a.dataset().paths == b.dataset().paths


def test_center_stores_centred_embeddings_and_keeps_the_raw_ones(tmp_path):
    photos = photo_folder(tmp_path / "photos", people=PEOPLE[:2], variants=VARIANTS[:2])
    assert main(["init", str(tmp_path / "p"), "--images", str(photos), "--model", "dlib",
                 "--center", "-q"]) == 0
    raw = np.load(tmp_path / "p" / "embeddings_raw.npy")
    stored = np.load(tmp_path / "p" / "embeddings.npy")
    unit = raw / np.linalg.norm(raw, axis=1, keepdims=True)
    np.testing.assert_allclose(stored, unit - unit.mean(axis=0), atol=1e-6)
    cos = lambda a: (a @ a.T) / np.outer(*(2 * [np.linalg.norm(a, axis=1)]))  # noqa: E731
    assert cos(stored)[0, 2] < cos(raw)[0, 2]   # other people's cosines are no longer bunched


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_no_face_in_any_photo_exits_2(tmp_path, capsys):
    (tmp_path / "photos" / "a").mkdir(parents=True)
    for k in range(2):
        Image.new("RGB", (120, 90), (40 * k, 90, 120)).save(tmp_path / "photos" / "a" / f"{k}.jpg")
    rc = main(["init", str(tmp_path / "p"), "--images", str(tmp_path / "photos"),
               "--model", "dlib", "--no-cnn-fallback", "-q"])
    assert rc == 2
    line = _one_error_line(capsys)
    assert "no face was found in any of the 2 photo(s)" in line and "Fix:" in line
    assert not (tmp_path / "p").exists()


def test_an_empty_folder_exits_2(tmp_path, capsys):
    (tmp_path / "photos").mkdir()
    assert main(["init", str(tmp_path / "p"), "--images", str(tmp_path / "photos"),
                 "--model", "dlib", "-q"]) == 2
    assert "no images found" in _one_error_line(capsys)


def test_a_file_that_is_not_an_image_exits_2_naming_it(tmp_path, capsys):
    photos = photo_folder(tmp_path / "photos", people=PEOPLE[:1], variants=("orig",))
    (photos / PEOPLE[0] / "notes.jpg").write_text("not a photo")
    assert main(["init", str(tmp_path / "p"), "--images", str(photos), "--model", "dlib",
                 "-q"]) == 2
    line = _one_error_line(capsys)
    assert "notes.jpg" in line and "not an image" in line and "continues" in line
