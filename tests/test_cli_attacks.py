"""The command line attacked on purpose (issue 13): every refusal is exit 2 with one line, and
every file the user did not ask to change is byte-identical afterwards.

Small real data: PNG crops, a CSV manifest, embeddings, a real SQLite project scored by the real
pipeline. Commands run in-process through `fiqa_gui.cli.main` where that is faithful, and in a
subprocess where the attack is a signal, a broken pipe, a full disk or peak memory. Full disks
are a real tmpfs mounted for the test (only where mounting is allowed, else those tests skip);
ENOSPC is never simulated by patching.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest

from fiqa_gui.cli import main
from tests.conftest import write_image, write_manifest

SIZES = {"alice": 3, "bob": 3, "carol": 2, "dave": 2}
ROOT = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- helpers
def make_data(base: Path, *, names: dict[str, list[str]] | None = None, dim: int = 16) -> dict:
    """ImageFolder-style files under base/img, a manifest and embeddings (one row per image)."""
    names = names or {c: [f"{j}.png" for j in range(n)] for c, n in SIZES.items()}
    rows = []
    for k, (cluster, files) in enumerate(sorted(names.items())):
        for j, f in enumerate(files):
            rel = f"img/{cluster}/{f}"
            write_image(base / rel, seed=10 * k + j)
            rows.append({"path": rel, "cluster": cluster, "pose": "frontal"})
    manifest = write_manifest(base / "manifest.csv", rows)
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(len(rows), dim)).astype(np.float32)
    np.save(base / "emb.npy", emb)
    return {"root": base, "manifest": manifest, "embeddings": base / "emb.npy", "rows": rows}


def make_project(tmp_path: Path, *, score: bool = True, approve: bool = False,
                 names: dict[str, list[str]] | None = None) -> tuple[Path, dict]:
    data = make_data(tmp_path / "data", names=names)
    proj = tmp_path / "proj"
    assert main(["init", str(proj), "--manifest", str(data["manifest"]), "--embeddings",
                 str(data["embeddings"]), "-q"]) == 0
    if score:
        assert main(["score", str(proj), "--no-image-cues", "-q"]) == 0
    if approve:
        assert main(["sample", str(proj), "--approve", "-q"]) == 0
    return proj, data


def digest(*roots: Path) -> dict[str, str]:
    """sha256 of every regular file under the given files/folders (links not followed)."""
    out = {}
    for r in roots:
        files = [r] if r.is_file() else sorted(p for p in r.rglob("*"))
        for p in files:
            if p.is_file() and not p.is_symlink() and not p.name.endswith(("-wal", "-shm")):
                out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def error_line(err: str) -> str:
    """The single error line of a failed command; fails if there are more, or a traceback."""
    assert "Traceback" not in err, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("fiqa-gui: error:")]
    assert len(errors) == 1, err
    assert lines[-1] == errors[0], err  # nothing after it
    return errors[0]


def refused(argv: list[str], capsys, *, match: str) -> str:
    """Run `argv` in-process: exit 2, one line matching `match`; return the line."""
    capsys.readouterr()
    try:
        rc = main(argv)
    except SystemExit as exc:  # argparse usage errors
        rc = exc.code
    err = capsys.readouterr().err
    assert rc == 2, err
    line = error_line(err)
    assert match.lower() in line.lower(), line
    return line


def run_cli(*args: str, timeout: float = 180, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fiqa_gui", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT, **kw)


def run_script(code: str, timeout: float = 180) -> subprocess.CompletedProcess:
    """Run Python code in a fresh interpreter (kill points, memory, signals)."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT)


@pytest.fixture
def tmpfs(tmp_path):
    """`mount(size)` → a fresh tmpfs of that size (bytes); skipped where mounting is refused."""
    mounted = []

    def mount(size: int, *, options: str = "") -> Path:
        point = tmp_path / f"tmpfs{len(mounted)}"
        point.mkdir()
        opts = f"size={size}" + (f",{options}" if options else "")
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(point)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({r.stderr.strip() or r.returncode})")
        mounted.append(point)
        return point

    yield mount
    for point in reversed(mounted):
        subprocess.run(["umount", "-l", str(point)], capture_output=True)


def fill(folder: Path) -> None:
    """Fill the file system of `folder` to the last byte."""
    fd = os.open(folder / "filler.bin", os.O_WRONLY | os.O_CREAT)
    try:
        for size in (65536, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)


# ----------------------------------------------------------------------------- 1. outputs
@pytest.mark.parametrize("force", [False, True])
def test_score_out_never_replaces_project_files_or_inputs(tmp_path, capsys, force):
    proj, data = make_project(tmp_path)
    image = data["root"] / data["rows"][0]["path"]
    targets = [proj / "project.sqlite", proj / "embeddings.npy", data["embeddings"],
               data["manifest"], image]
    before = digest(proj, data["root"])
    for target in targets:
        argv = ["score", str(proj), "--no-image-cues", "-q", "--out", str(target)]
        refused(argv + (["--force"] if force else []), capsys, match="part of the project")
    # stand-alone scoring: its own inputs, also through a symlink and a hard link
    os.symlink(data["manifest"], tmp_path / "alias.csv")
    os.link(data["manifest"], tmp_path / "hard.csv")
    for target in (data["manifest"], tmp_path / "alias.csv", tmp_path / "hard.csv",
                   data["embeddings"], image):
        refused(["score", "--manifest", str(data["manifest"]), "--embeddings",
                 str(data["embeddings"]), "--no-image-cues", "-q", "--out", str(target),
                 "--force"], capsys, match="even with --force")
    assert digest(proj, data["root"]) == before
    with Project_open(proj) as p:
        assert len(p.runs()) == 1  # nothing was scored for a refused output


def Project_open(folder):
    from fiqa_gui.core.store import Project

    return Project.open(folder, read_only=True)


def test_score_out_existing_file_only_with_force(tmp_path, capsys):
    proj, _ = make_project(tmp_path)
    out = tmp_path / "scores.csv"
    out.write_text("keep\n")
    refused(["score", str(proj), "--no-image-cues", "-q", "--out", str(out)], capsys,
            match="already exists")
    assert out.read_text() == "keep\n"
    assert main(["score", str(proj), "--no-image-cues", "-q", "--out", str(out),
                 "--force"]) == 0
    assert out.read_text().startswith("path,cluster,sdd")
    assert oct(out.stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def test_other_commands_follow_the_same_output_rule(tmp_path, capsys):
    proj, data = make_project(tmp_path)
    before = digest(proj, data["root"])
    refused(["export", str(proj), "--labels", str(proj / "project.sqlite"), "--force"], capsys,
            match="part of the project")
    refused(["export", str(proj), "--audit", str(data["manifest"]), "--force"], capsys,
            match="part of the project")
    refused(["export", str(proj), "--tree", str(tmp_path), "--force"], capsys,
            match="part of the project")  # the folder that holds the project
    refused(["sample", str(proj), "-q", "--coverage", str(data["manifest"]), "--force"],
            capsys, match="part of the project")
    refused(["cluster", "--images", str(data["root"] / "img"), "--embeddings",
             str(data["embeddings"]), "--out", str(data["embeddings"]), "--force"], capsys,
            match="input")
    refused(["cluster", "--images", str(data["root"] / "img"), "--embeddings",
             str(data["embeddings"]), "--out", str(data["root"] / data["rows"][0]["path"]),
             "--force"], capsys, match="input")
    assert digest(proj, data["root"]) == before


def test_guard_output_signature_for_other_commands(tmp_path):
    from fiqa_gui.core.atomic_output import guard_output
    from fiqa_gui.core.errors import UserInputError

    src = tmp_path / "in.csv"
    src.write_text("x")
    new = guard_output(tmp_path / "new.csv", force=False, protected=[src])
    assert new == (tmp_path / "new.csv").absolute()
    with pytest.raises(UserInputError, match="input"):
        guard_output(src, force=True, protected=[src])
    with pytest.raises(UserInputError, match="already exists"):
        guard_output(src, force=False)


# ----------------------------------------------------------------------------- 2. demo folder
def test_demo_never_deletes_folders_it_did_not_make(tmp_path, capsys):
    mine = tmp_path / "mine"
    for part in ("data", "project"):
        (mine / part).mkdir(parents=True)
        (mine / part / "thesis.txt").write_text(f"my {part}")
    before = digest(mine)
    refused(["demo", "--folder", str(mine), "--no-window", "-q"], capsys, match="did not make")
    assert digest(mine) == before


def test_demo_clears_only_its_own_interrupted_generation(tmp_path):
    from fiqa_gui.core.demo.project import DEMO_MARKER, _clear_previous_demo

    folder = tmp_path / "demo"
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "half.png").write_bytes(b"x")
    (folder / DEMO_MARKER).write_text(json.dumps({"made_by": "fiqa-gui demo"}))
    (folder / "other.txt").write_text("not the demo's")
    _clear_previous_demo(folder)
    assert not (folder / "data").exists() and (folder / "other.txt").read_text()


# ----------------------------------------------------------------------------- 3. full disk
def _big_manifest(base: Path, n: int = 3000, dim: int = 256) -> tuple[Path, Path]:
    base.mkdir(parents=True, exist_ok=True)
    rows = [{"path": f"img/c{i % 60}/{i}.png", "cluster": f"c{i % 60}"} for i in range(n)]
    manifest = write_manifest(base / "manifest.csv", rows)
    emb = np.random.default_rng(1).normal(size=(n, dim)).astype(np.float32)
    np.save(base / "emb.npy", emb)
    return manifest, base / "emb.npy"


@pytest.mark.parametrize("size, extra", [(1 << 20, []),                 # embeddings overflow
                                         (256 << 10, ["--reference-embeddings"])])  # database
def test_init_on_a_full_disk_is_one_line_and_leaves_nothing(tmp_path, tmpfs, size, extra):
    manifest, emb = _big_manifest(tmp_path / "src")
    disk = tmpfs(size)
    r = run_cli("init", str(disk / "proj"), "--manifest", str(manifest), "--embeddings",
                str(emb), "--no-image-check", "-q", *extra)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "space" in error_line(r.stderr)
    assert sorted(p.name for p in disk.iterdir()) == []  # no staging folder, no project
    st = os.statvfs(disk)
    assert st.f_bfree == st.f_blocks  # the space is free again


def test_export_and_score_on_a_full_disk(tmp_path, tmpfs):
    proj, _ = make_project(tmp_path, approve=True)
    disk = tmpfs(256 << 10)
    fill(disk)
    r = run_cli("export", str(proj), "--labels", str(disk / "labels.txt"), "-q")
    assert r.returncode == 2 and "space" in error_line(r.stderr), r.stderr
    assert sorted(p.name for p in disk.iterdir()) == ["filler.bin"]  # no .partial left
    r = run_cli("score", str(proj), "--no-image-cues", "-q", "--out", str(disk / "s.csv"))
    assert r.returncode == 2 and "space" in error_line(r.stderr), r.stderr
    assert sorted(p.name for p in disk.iterdir()) == ["filler.bin"]


def test_scoring_a_project_on_a_full_disk_loses_nothing(tmp_path, tmpfs):
    data = make_data(tmp_path / "data")
    disk = tmpfs(1 << 20)
    proj = disk / "proj"
    assert main(["init", str(proj), "--manifest", str(data["manifest"]), "--embeddings",
                 str(data["embeddings"]), "-q"]) == 0
    fill(disk)
    r = run_cli("score", str(proj), "--no-image-cues", "-q")
    assert r.returncode == 2, r.stderr
    assert "space" in error_line(r.stderr)
    (disk / "filler.bin").unlink()
    with Project_open(proj) as p:
        assert p.runs() == [] and p.image_count() == 10


def test_read_only_folder_during_export(tmp_path, tmpfs):
    proj, _ = make_project(tmp_path, approve=True)
    ro = tmpfs(1 << 20, options="ro")
    r = run_cli("export", str(proj), "--labels", str(ro / "labels.txt"), "-q")
    assert r.returncode == 2, r.stderr
    assert "read-only" in error_line(r.stderr).lower()


# ----------------------------------------------------------------------------- 4. the lock
def test_lock_symlink_is_refused_and_its_target_untouched(tmp_path, capsys):
    proj, _ = make_project(tmp_path)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (proj / ".lock").unlink(missing_ok=True)
    os.symlink(victim, proj / ".lock")
    refused(["score", str(proj), "--no-image-cues", "-q"], capsys, match="symbolic link")
    assert victim.read_text() == "precious"


def test_deleting_the_lock_file_does_not_let_a_second_writer_in(tmp_path):
    from fiqa_gui.core.store import Project
    from fiqa_gui.core.store.project import ProjectLocked

    proj, _ = make_project(tmp_path, score=False)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from fiqa_gui.core.store import Project; "
         f"p = Project.open({str(proj)!r}); print('held', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert holder.stdout.readline().strip() == "held"
        (proj / ".lock").unlink()
        with pytest.raises(ProjectLocked):
            Project.open(proj)
        r = run_cli("score", str(proj), "--no-image-cues", "-q")
        assert r.returncode == 2 and "open in another" in error_line(r.stderr)
    finally:
        holder.kill()
        holder.wait()
    with Project.open(proj):  # released with its process
        pass


# ----------------------------------------------------------------------------- 5-7. export
def test_export_run_must_exist_and_hold_scores(tmp_path, capsys):
    proj, _ = make_project(tmp_path, approve=True)
    assert main(["cluster", str(proj), "-q"]) == 0
    with Project_open(proj) as p:
        cluster_run = p.runs("cluster")[-1].id
    out = tmp_path / "labels.txt"
    refused(["export", str(proj), "--labels", str(out), "--run", "99"], capsys,
            match="does not exist")
    refused(["export", str(proj), "--csv", str(out), "--run", str(cluster_run)], capsys,
            match="without per-image scores")
    assert not out.exists()


def test_labels_with_a_space_in_a_path(tmp_path, capsys):
    names = {"alice": ["a 1.png", "a2.png"], "bob": ["b1.png", "b2.png"]}
    proj, _ = make_project(tmp_path, names=names)
    out = tmp_path / "labels.txt"
    line = refused(["export", str(proj), "--labels", str(out)], capsys, match="whitespace")
    assert "--skip-whitespace" in line
    assert main(["export", str(proj), "--labels", str(out), "--skip-whitespace"]) == 0
    labels = out.read_text().splitlines()
    assert len(labels) == 3 and not any("a 1.png" in x for x in labels)
    out2 = tmp_path / "relative.txt"
    assert main(["export", str(proj), "--labels", str(out2), "--label-paths", "relative",
                 "--skip-whitespace"]) == 0
    assert out2.read_text().splitlines()[0].startswith("img/alice/a2.png\t")


def test_a_cluster_named_index_csv_exports_as_a_tree(tmp_path, capsys):
    names = {"index.csv": ["0.png", "1.png"], "bob": ["0.png", "1.png"]}
    proj, _ = make_project(tmp_path, names=names, approve=True)
    tree = tmp_path / "tree"
    assert main(["export", str(proj), "--tree", str(tree)]) == 0
    index = (tree / "index.csv").read_text().splitlines()
    assert index[0] == "file,image_id,cluster,source"
    assert (tree / "index~2.csv").is_dir()
    assert any(row.startswith("index~2.csv/") for row in index[1:])
    assert oct(tree.stat().st_mode & 0o777) == oct(0o777 & ~_umask())
    assert oct((tree / "index.csv").stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def _umask() -> int:
    from fiqa_gui.core.atomic_output import current_umask

    return current_umask()


def test_exported_files_follow_the_umask(tmp_path):
    proj, _ = make_project(tmp_path, approve=True)
    for flag, name in (("--labels", "l.txt"), ("--csv", "s.csv"), ("--audit", "a.csv")):
        assert main(["export", str(proj), flag, str(tmp_path / name)]) == 0
        assert oct((tmp_path / name).stat().st_mode & 0o777) == oct(0o666 & ~_umask())
    assert oct(proj.stat().st_mode & 0o777) == oct(0o777 & ~_umask())  # the project too


# ----------------------------------------------------------------------------- 8. memory
@pytest.mark.slow
def test_a_huge_png_is_decoded_within_a_bounded_memory():
    r = run_script("""
        import resource, tempfile, os
        from PIL import Image, ImageDraw
        from fiqa_gui.core.scoring.image_quality import compute_image_cues
        folder = tempfile.mkdtemp()
        im = Image.new("RGB", (5000, 5000), (120, 130, 140))
        ImageDraw.Draw(im).ellipse((1000, 1000, 4000, 4000), fill=(200, 150, 100))
        paths = []
        for i in range(4):
            paths.append(os.path.join(folder, f"{i}.png"))
            im.save(paths[-1])
        del im
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        out = compute_image_cues(paths, workers=4)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print((peak - base) // 1024, int(out["unreadable"].sum()), float(out["iq"][0]))
    """, timeout=300)
    assert r.returncode == 0, r.stderr
    grown_mb, unreadable, iq = r.stdout.split()
    decoded_mb = 5000 * 5000 * 3 / 2**20  # one RGB decode: 72 MB
    assert int(unreadable) == 0 and float(iq) > 0
    # four workers, four huge images: the budget lets two decodes run at once (measured
    # ~290 MB); before, each worker held its full-size float copies (~3.3 GB in all)
    assert int(grown_mb) < 6 * decoded_mb, r.stdout


def test_reduce_large_keeps_small_images_untouched():
    from PIL import Image

    from fiqa_gui.core.scoring.image_quality import REDUCED_SIDE, reduce_large

    small = Image.new("RGB", (1000, 1000))
    assert reduce_large(small) is small
    big = Image.new("P", (4000, 3000))
    out = reduce_large(big)
    assert min(out.size) >= REDUCED_SIDE and out.size[0] < 4000


def test_memory_budget_runs_an_oversized_request_alone():
    import threading
    import time

    from fiqa_gui.core.progress import MemoryBudget

    budget = MemoryBudget(100)
    inside, peak = [0], [0]
    lock = threading.Lock()

    def work(n):
        with budget.reserve(n):
            with lock:
                inside[0] += min(n, 100)  # what a request holds: at most the whole budget
                peak[0] = max(peak[0], inside[0])
            time.sleep(0.02)
            with lock:
                inside[0] -= min(n, 100)

    threads = [threading.Thread(target=work, args=(n,)) for n in (60, 60, 500, 30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak[0] <= 100


# ----------------------------------------------------------------------------- 10. exit 2
def test_numbers_are_checked_before_any_work(tmp_path, capsys):
    proj, data = make_project(tmp_path)
    for seed in ("-1", str(2**70), "x"):
        refused(["score", str(proj), "--no-image-cues", "--seed", seed], capsys, match="seed")
        refused(["cluster", str(proj), "--seed", seed], capsys, match="seed")
    refused(["cluster", str(proj), "--k", "-5"], capsys, match="--k")
    refused(["sample", str(proj), "--level", "x"], capsys, match="--level")
    refused(["score", str(proj), "--workers", "-1"], capsys, match="--workers")
    with Project_open(proj) as p:
        assert len(p.runs()) == 1


def test_k_is_checked_in_the_core_too():
    from fiqa_gui.core.errors import UserInputError
    from fiqa_gui.core.seedsets.clustering import cluster_embeddings

    with pytest.raises(UserInputError, match="--k"):
        cluster_embeddings(np.eye(4, dtype=np.float32), (0.5,), k=-5)


def test_damaged_project_databases(tmp_path, capsys):
    proj, _ = make_project(tmp_path)
    db = proj / "project.sqlite"
    # schema version '9x': refused, unchanged
    conn = sqlite3.connect(db)
    conn.execute("INSERT INTO schema_version(version) VALUES ('9x')")
    conn.commit()
    conn.close()
    before = digest(db)
    refused(["info", str(proj)], capsys, match="not a version number")
    refused(["score", str(proj), "--no-image-cues"], capsys, match="not a version number")
    assert digest(db) == before
    # a zero-byte database: refused, never migrated
    db.write_bytes(b"")
    for f in ("project.sqlite-wal", "project.sqlite-shm"):
        (proj / f).unlink(missing_ok=True)
    refused(["score", str(proj), "--no-image-cues"], capsys, match="empty")
    refused(["info", str(proj)], capsys, match="empty")
    assert db.stat().st_size == 0 and not (proj / "project.sqlite-wal").exists()


def test_corrupted_database_pages(tmp_path, capsys):
    proj, _ = make_project(tmp_path)
    db = proj / "project.sqlite"
    raw = bytearray(db.read_bytes())
    page = 4096
    for start in range(2 * page, len(raw), page):  # keep the header page, wreck the rest
        raw[start:start + page] = b"\xa5" * page
    db.write_bytes(bytes(raw))
    line = refused(["info", str(proj)], capsys, match="damaged")
    assert str(db) in line


def test_bad_embeddings_inside_a_project(tmp_path, capsys):
    proj, _ = make_project(tmp_path, score=False)
    emb = proj / "embeddings.npy"
    good = emb.read_bytes()
    emb.write_bytes(good[: len(good) - 100])  # truncated
    refused(["score", str(proj), "--no-image-cues"], capsys, match="truncated")
    np.save(emb, np.array([object()] * 10, dtype=object), allow_pickle=True)
    refused(["score", str(proj), "--no-image-cues"], capsys, match="Python objects")
    np.save(emb, np.ones((10, 32), np.float32))  # another model's dimension
    refused(["score", str(proj), "--no-image-cues"], capsys, match="dimensions")
    np.save(emb, np.ones((7, 16), np.float32))  # another data set
    refused(["score", str(proj), "--no-image-cues"], capsys, match="rows")
    with Project_open(proj) as p:
        assert p.runs() == []


def test_impossible_array_headers(tmp_path, capsys):
    data = make_data(tmp_path / "data")
    base = ["score", "--manifest", str(data["manifest"]), "--no-image-cues", "--out",
            str(tmp_path / "s.csv"), "--embeddings"]
    raw = data["embeddings"].read_bytes()
    neg = tmp_path / "neg.npy"
    neg.write_bytes(raw.replace(b"(10, 16)", b"(-10, 16)"))
    refused(base + [str(neg)], capsys, match="negative")
    huge = tmp_path / "huge.npz"
    member = raw.replace(b"(10, 16)", b"(10000000000, 16)")
    with zipfile.ZipFile(huge, "w") as z:
        z.writestr("embeddings.npy", member)
    refused(base + [str(huge)], capsys, match="truncated")
    text = tmp_path / "text.npy"
    text.write_text("0.1,0.2\n0.3,0.4\n")
    line = refused(base + [str(text)], capsys, match="text file")
    assert "Python objects" not in line
    assert not (tmp_path / "s.csv").exists()


def test_info_into_a_closed_pipe(tmp_path):
    proj, _ = make_project(tmp_path)
    p = subprocess.Popen([sys.executable, "-m", "fiqa_gui", "info", str(proj)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    p.stdout.close()  # like `| head` that has already exited
    err = p.stderr.read().decode()
    assert p.wait(timeout=60) == 2
    assert "pipe" in error_line(err)


# ----------------------------------------------------------------------------- 11. silent results
def test_moved_images_are_reported_and_can_be_relocated(tmp_path, capsys):
    proj, data = make_project(tmp_path, score=False)
    moved = tmp_path / "moved"
    shutil.move(data["root"], moved)
    refused(["score", str(proj), "-q"], capsys, match="relocate")
    with Project_open(proj) as p:
        assert p.runs() == []
    assert main(["relocate", str(proj), str(moved)]) == 0
    assert main(["score", str(proj), "-q"]) == 0
    with Project_open(proj) as p:
        s = p.scores(p.runs()[-1].id)
        assert np.isfinite(s["iq"]).all()  # the pixels were read at the new place
        assert p.audit_log()[-2][2] == "relocate_images"
    refused(["relocate", str(proj), str(tmp_path)], capsys, match="none of the project")


def test_subnormal_embeddings_are_refused(tmp_path, capsys):
    data = make_data(tmp_path / "data")
    emb = np.load(data["embeddings"])
    emb[3] = 1e-42  # subnormal in float32: its norm underflows to 0
    np.save(data["embeddings"], emb)
    line = refused(["init", str(tmp_path / "p"), "--manifest", str(data["manifest"]),
                    "--embeddings", str(data["embeddings"])], capsys, match="normalise")
    assert "numpy row 3" in line


# ----------------------------------------------------------------------------- 12. signals
KILL_INIT = """
    import os, signal, sys, time
    from fiqa_gui.core.store import project as store
    original = store._copy_array
    def copy_then_die(*a, **k):
        original(*a, **k)
        os.kill(os.getpid(), signal.{sig})
        time.sleep(30)
    store._copy_array = copy_then_die
    from fiqa_gui.cli import main
    sys.exit(main(["init", {proj!r}, "--manifest", {manifest!r}, "--embeddings", {emb!r},
                   "-q"]))
"""


def test_sigterm_during_init_cleans_up_and_sigkill_leftovers_go_next_time(tmp_path):
    data = make_data(tmp_path / "data")
    proj = tmp_path / "out" / "proj"
    proj.parent.mkdir()
    args = {"proj": str(proj), "manifest": str(data["manifest"]),
            "emb": str(data["embeddings"])}
    r = run_script(KILL_INIT.format(sig="SIGTERM", **args))
    assert r.returncode == 143, r.stderr
    assert "terminated" in r.stderr and "Traceback" not in r.stderr
    assert list(proj.parent.iterdir()) == []
    r = run_script(KILL_INIT.format(sig="SIGKILL", **args))
    assert r.returncode == -signal.SIGKILL
    [left] = list(proj.parent.iterdir())
    assert left.name.startswith(".proj.creating-")
    assert main(["init", str(proj), "--manifest", str(data["manifest"]), "--embeddings",
                 str(data["embeddings"]), "-q"]) == 0
    assert [p.name for p in proj.parent.iterdir()] == ["proj"]


KILL_EXPORT = """
    import os, signal, sys, time
    from fiqa_gui.core.export import project_export as ex
    original = ex.corrected_label
    def label_then_die(*a, **k):
        os.kill(os.getpid(), signal.{sig})
        time.sleep(30)
    ex.corrected_label = label_then_die
    from fiqa_gui.cli import main
    sys.exit(main(["export", {proj!r}, "--labels", {out!r}, "-q"]))
"""


def test_sigterm_and_sigkill_during_export(tmp_path):
    proj, _ = make_project(tmp_path)
    out = tmp_path / "exports" / "labels.txt"
    out.parent.mkdir()
    r = run_script(KILL_EXPORT.format(sig="SIGTERM", proj=str(proj), out=str(out)))
    assert r.returncode == 143, r.stderr
    assert list(out.parent.iterdir()) == []
    r = run_script(KILL_EXPORT.format(sig="SIGKILL", proj=str(proj), out=str(out)))
    assert r.returncode == -signal.SIGKILL
    [left] = list(out.parent.iterdir())
    assert left.name.startswith(".labels.txt.") and left.name.endswith(".partial")
    assert main(["export", str(proj), "--labels", str(out)]) == 0
    assert [p.name for p in out.parent.iterdir()] == ["labels.txt"]


def test_a_temporary_in_use_is_never_swept(tmp_path):
    from fiqa_gui.core.atomic_output import hold_temporary, release_temporary, sweep_stale

    busy = tmp_path / ".out.csv.abc.partial"
    busy.write_text("being written")
    dead = tmp_path / ".out.csv.def.partial"
    dead.write_text("left by a killed writer")
    fd = hold_temporary(busy)
    try:
        assert sweep_stale(tmp_path, ".out.csv.", (".partial",)) == [dead]
        assert busy.exists() and not dead.exists()
    finally:
        release_temporary(fd)


KILL_IN_TRANSACTION = ("import os, signal, sys\n{patch}\nfrom fiqa_gui.cli import main\n"
                       "sys.exit(main({argv!r}))\n")


def _die_inside_transaction(module: str, name: str) -> str:
    """Patch code: SIGKILL this process in the middle of the transaction of `module.name`
    (a function whose first argument is the project)."""
    return textwrap.dedent(f"""
        import importlib
        mod = importlib.import_module({module!r})
        original = getattr(mod, {name!r})
        def wrapped(project, *a, **k):
            project.conn.set_progress_handler(
                lambda: os.kill(os.getpid(), signal.SIGKILL)
                if project.conn.in_transaction else 0, 200)
            return original(project, *a, **k)
        setattr(mod, {name!r}, wrapped)
    """)


def test_kill_mid_cluster_leaves_no_half_run(tmp_path):
    proj, _ = make_project(tmp_path)
    before = digest(proj / "project.sqlite")
    patch = _die_inside_transaction("fiqa_gui.core.seedsets.clustering", "store_clustering")
    r = run_script(KILL_IN_TRANSACTION.format(patch=patch, argv=["cluster", str(proj), "-q"]))
    assert r.returncode == -signal.SIGKILL, r.stderr
    with Project_open(proj) as p:
        assert p.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert p.runs("cluster") == []
        assert p.conn.execute("SELECT COUNT(*) FROM subclusters").fetchone()[0] == 0
    assert digest(proj / "project.sqlite") == before


def test_kill_mid_sample_leaves_annotations_as_they_were(tmp_path):
    proj, _ = make_project(tmp_path, names={"a": ["0.png", "1.png"], "b": ["0.png", "1.png"]})
    patch = textwrap.dedent("""
        from fiqa_gui.core.curation import seeds
        original = seeds.SeedCommand.apply  # the first one `sample` applies: the proposal
        def apply(self, project):
            project.conn.set_progress_handler(
                lambda: os.kill(os.getpid(), signal.SIGKILL)
                if project.conn.in_transaction else 0, 100)
            return original(self, project)
        seeds.SeedCommand.apply = apply
    """)
    with Project_open(proj) as p:
        log = p.audit_log()
    r = run_script(KILL_IN_TRANSACTION.format(patch=patch, argv=["sample", str(proj), "-q"]))
    assert r.returncode == -signal.SIGKILL, r.stderr
    with Project_open(proj) as p:
        assert p.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert p.conn.execute("SELECT COUNT(*) FROM annotations").fetchone()[0] == 0
        assert p.audit_log() == log
    assert main(["sample", str(proj), "-q"]) == 0  # and it works afterwards
    with Project_open(proj) as p:
        assert p.conn.execute("SELECT COUNT(*) FROM annotations").fetchone()[0] > 0


def test_kill_mid_migration_keeps_the_last_complete_version(tmp_path):
    folder = tmp_path / "old"
    folder.mkdir()
    shutil.copy(ROOT / "tests" / "fixtures" / "project_v1.sqlite", folder / "project.sqlite")
    patch = textwrap.dedent("""
        from fiqa_gui.core.store import schema
        class DieAfterFirst(list):
            def __iter__(self):
                yield self[0]
                os.kill(os.getpid(), signal.SIGKILL)
        schema.MIGRATIONS[2] = DieAfterFirst(schema.MIGRATIONS[2])
    """)
    r = run_script(KILL_IN_TRANSACTION.format(patch=patch, argv=["relocate", str(folder),
                                                                  str(tmp_path)]))
    assert r.returncode == -signal.SIGKILL, r.stderr
    conn = sqlite3.connect(folder / "project.sqlite")
    assert [v for (v,) in conn.execute("SELECT version FROM schema_version")] == [1, 2]
    tables = {t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "seed_sets" in tables and "flag_details" not in tables
    conn.close()
    from fiqa_gui.core.store import SCHEMA_VERSION, Project

    with Project.open(folder) as p:  # the next open finishes the migration
        assert p.schema_version == SCHEMA_VERSION
        assert len(p.dataset()) == 12


# ----------------------------------------------------------------------------- 14-16. input text
def test_paths_with_spaces_and_backslashes_survive_cluster_then_init(tmp_path, capsys):
    folder = tmp_path / "crops"
    names = [" lead.png", "trail .png", "back\\slash.png", "plain.png"]
    for i, n in enumerate(names):
        write_image(folder / n, seed=i)
    emb = np.repeat(np.eye(2, 8, dtype=np.float32), 2, axis=0)
    np.save(tmp_path / "e.npy", emb)
    manifest = tmp_path / "m.csv"
    assert main(["cluster", "--images", str(folder), "--embeddings", str(tmp_path / "e.npy"),
                 "--out", str(manifest), "-q"]) == 0
    proj = tmp_path / "p"
    assert main(["init", str(proj), "--manifest", str(manifest), "-q"]) == 0
    with Project_open(proj) as p:
        assert sorted(Path(x).name for x in p.dataset().paths) == sorted(names)


def test_a_symlinked_alias_is_a_duplicate(tmp_path, capsys):
    data = make_data(tmp_path / "data")
    os.symlink(data["root"] / "img/alice/0.png", data["root"] / "alias.png")
    rows = [*data["rows"], {"path": "alias.png", "cluster": "bob", "pose": "x"}]
    write_manifest(data["manifest"], rows)
    line = refused(["init", str(tmp_path / "p"), "--manifest", str(data["manifest"])], capsys,
                   match="duplicate")
    assert "line 12" in line and "line 2" in line


def test_a_head_rejected_by_torch_is_one_line(tmp_path, capsys):
    import torch

    data = make_data(tmp_path / "data")
    head = tmp_path / "head.pt"
    torch.save({"weight": torch.ones(4, 16), "extra": Path("x")}, head)  # not weights-only
    refused(["score", "--manifest", str(data["manifest"]), "--embeddings",
             str(data["embeddings"]), "--no-image-cues", "--head", str(head), "--out",
             str(tmp_path / "s.csv")], capsys, match="classifier head")


def test_a_cluster_folder_without_images_is_reported(tmp_path, capsys):
    root = tmp_path / "tree"
    for c in ("a", "b"):
        for j in range(2):
            write_image(root / c / f"{j}.png", seed=j)
    (root / "notes").mkdir()
    (root / "notes" / "readme.txt").write_text("no images here")
    assert main(["init", str(tmp_path / "p"), "--images", str(root), "-q"]) == 0
    err = capsys.readouterr().err
    assert "left out: notes" in err
