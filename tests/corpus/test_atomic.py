"""A folder replaced whole: killed writers (SIGKILL at random moments and at every step of
the swap), the lock, a full disk, a read-only place, a file in the folder's place."""

from __future__ import annotations

import errno
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from attnwidget.corpus.atomic import AtomicFolder, OutputFolderError

CHILD = Path(__file__).with_name("atomic_child.py")
REPO = Path(__file__).resolve().parents[2]


def child(folder: Path, first: int, count: int, *extra: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.Popen(
        [sys.executable, str(CHILD), str(folder), str(first), str(count), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        **kwargs,
    )


def generation_of(folder: Path) -> int:
    """The one generation the folder holds; fails on a mix, a partial write or leftovers."""
    names = sorted(p.name for p in folder.iterdir())
    generation = int((folder / "generation.txt").read_text())
    want = ["generation.txt"] + (["odd.txt"] if generation % 2 else []) + [f"part{k}.bin" for k in range(4)]
    assert names == sorted(want), f"files of more than one write: {names} in generation {generation}"
    for k in range(4):
        data = (folder / f"part{k}.bin").read_bytes()
        assert data.startswith(f"generation {generation}\n".encode()), f"part{k} is from another write"
        assert len(data) == len(f"generation {generation}\n") + 300_000, f"part{k} is cut short"
    return generation


def recovered(folder: Path) -> int:
    """Take the lock as the next run would (which finishes or undoes a torn swap), then read."""
    target = AtomicFolder(folder)
    with target.locked():
        pass
    leftovers = [
        p.name
        for p in folder.parent.iterdir()
        if p.name.startswith(f".{folder.name}.") and not p.name.endswith(".lock")
    ]
    assert not leftovers, f"a killed writer's folders were left: {leftovers}"
    return generation_of(folder)


@pytest.fixture
def first_generation(tmp_path) -> Path:
    folder = tmp_path / "out"
    done = child(folder, 0, 1)
    assert done.wait(60) == 0, done.stderr.read()
    assert generation_of(folder) == 0
    return folder


POINTS = ["rename-1", "after-rename-1", "rename-2", "after-rename-2", "rename-3", "after-rename-3", "remove"]


@pytest.mark.parametrize("mode", ["--exchange", "--steps"])
def test_killed_at_every_step_of_the_swap_leaves_old_or_new(first_generation, mode):
    folder = first_generation
    points = POINTS if mode == "--steps" else ["exchange", "after-exchange", "remove"]
    expected = {"rename-1": {1}, "exchange": {1}}  # killed before anything is published: the old one
    generation = 0
    for point in points:
        generation += 1
        killed = child(folder, generation, 1, mode, "--kill-at", point)
        assert killed.wait(60) == -signal.SIGKILL, killed.stderr.read()
        got = recovered(folder)
        # Once the new folder is whole and marked ready, recovery finishes the swap.
        assert got in ({generation - 1, generation} if point not in expected else {generation - 1}), point
        if got != generation:  # keep the numbering simple: the next write follows what is there
            generation = got


@pytest.mark.parametrize("mode", ["--exchange", "--steps"])
def test_killed_at_random_moments_leaves_old_or_new(first_generation, mode):
    folder = first_generation
    rng = random.Random(1 if mode == "--steps" else 2)
    last = 0
    for attempt in range(12):
        writer = child(folder, last + 1, 1000, mode)
        time.sleep(0.3 + rng.random() * 0.7)  # the interpreter starts in ~0.2 s; then writes non-stop
        writer.send_signal(signal.SIGKILL)
        writer.wait(30)
        published = [int(line) for line in writer.stdout.read().split()]
        got = recovered(folder)
        newest = published[-1] if published else last
        # The folder holds the last generation the writer reported, or the one it was swapping in.
        assert got in (newest, newest + 1), (attempt, got, newest)
        last = got


def test_a_second_writer_is_refused_while_the_first_holds_the_lock(tmp_path):
    folder = tmp_path / "out"
    holder = AtomicFolder(folder)
    with holder.locked():
        other = child(folder, 0, 1)
        assert other.wait(60) != 0
        err = other.stderr.read()
        assert "FolderLockedError" in err and f"pid {os.getpid()}" in err and "another attnwidget run" in err
    # A writer killed with the lock held does not keep it.
    stuck = child(folder, 0, 10_000)
    time.sleep(1.0)
    stuck.send_signal(signal.SIGKILL)
    stuck.wait(30)
    with AtomicFolder(folder).locked():
        generation_of(folder)


def test_writing_needs_the_lock(tmp_path):
    with pytest.raises(RuntimeError, match="locked"):
        with AtomicFolder(tmp_path / "x").staging():
            pass


def test_a_file_in_the_folders_place_and_a_read_only_parent(tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(OutputFolderError, match="is a file"):
        AtomicFolder(tmp_path / "afile").check_writable()
    with pytest.raises(OutputFolderError, match="is a file"):
        AtomicFolder(tmp_path / "afile" / "sub").check_writable()


@pytest.fixture
def small_disk(tmp_path):
    """A real 1 MB filesystem where this process may mount one (root); otherwise None."""
    mount = tmp_path / "small"
    mount.mkdir()
    if (
        os.geteuid() != 0
        or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True
        ).returncode
    ):
        yield None
        return
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_leaves_the_old_folder_and_no_leftovers(small_disk, tmp_path, monkeypatch):
    root = small_disk or tmp_path
    folder = AtomicFolder(root / "out")
    with folder.locked(), folder.staging() as staged:
        (staged / "old.txt").write_text("old\n")
        folder.publish(staged)
    if small_disk is None:  # no real small filesystem here: the disk fills on the first big write
        real_write = Path.write_bytes

        def full(self, data):
            if len(data) > 100_000:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))
            return real_write(self, data)

        monkeypatch.setattr(Path, "write_bytes", full)
    with pytest.raises(OutputFolderError, match="no space left") as info:
        with folder.locked(), folder.staging() as staged:
            (staged / "new.bin").write_bytes(b"x" * 2_000_000)  # twice the disk
            folder.publish(staged)
    assert "unchanged" in str(info.value)
    assert sorted(p.name for p in (root / "out").iterdir()) == ["old.txt"]
    assert sorted(p.name for p in root.iterdir()) == [".out.lock", "out"]


def test_a_read_only_filesystem_is_reported_before_writing(tmp_path):
    if os.geteuid() == 0:
        mount = tmp_path / "ro"
        mount.mkdir()
        if subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=1m,ro", "tmpfs", str(mount)], capture_output=True
        ).returncode:
            pytest.skip("root cannot mount a read-only filesystem here, and ignores permission bits")
        try:
            with pytest.raises(OutputFolderError, match="not writable|Read-only|cannot"):
                with AtomicFolder(mount / "out").locked():
                    pass
        finally:
            subprocess.run(["umount", "-l", str(mount)], check=False)
    else:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o555)
        try:
            with pytest.raises(OutputFolderError, match="not writable"):
                AtomicFolder(locked / "out").check_writable()
        finally:
            locked.chmod(0o755)


def test_a_symbolic_link_is_followed_and_kept(tmp_path):
    target = tmp_path / "big-disk" / "run"
    target.mkdir(parents=True)
    link = tmp_path / "run"
    link.symlink_to(target)
    folder = AtomicFolder(link)
    with folder.locked(), folder.staging() as staged:
        (staged / "new.txt").write_text("new\n")
        folder.publish(staged)
    assert link.is_symlink() and (link / "new.txt").read_text() == "new\n"
    assert sorted(p.name for p in target.parent.iterdir()) == [".run.lock", "run"]
    with pytest.raises(OutputFolderError, match="root of the filesystem"):
        AtomicFolder("/").check_writable()
