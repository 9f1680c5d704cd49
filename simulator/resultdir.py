"""The result folder as one unit: checked before a run, written whole beside its place, swapped in.

A result folder holds exactly one run. :func:`replacing` writes a new result into a fresh
hidden folder beside the target (same parent, so renames are atomic) and swaps it in only
when every file is written: the old folder's files are all gone afterwards, and a run that
fails or is interrupted leaves the old folder as it was and removes the new one.

:func:`check_target` finds bad output paths before any work is done: a path that is a file,
a parent that is a file, a place nothing can be written to (probed by creating a folder, so
it holds for root too), a place inside another result folder, and a folder with files that is
not a mailsim result folder, which is never deleted.

Every result folder has a ``manifest.json``: the run's ``run_id`` and each file's sha256 and
size. :func:`verify` refuses a folder whose files disagree with it (a file missing, changed,
or not part of the run, such as one left by another run); :func:`add_files` adds or replaces
files of a verified folder (a redrawn plot, a journey) the same whole-folder way, manifest
updated.

``run_id`` (:func:`run_id_of`) is a hash of what determines the run: the mailsim version, the
seed the run used and the rest of the effective scenario. It is not random, so two runs with the same seed still write
byte-identical files (summary.json and the manifest included), and equal ids mean equal
simulations. Nothing here prints.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .interrupts import raise_if_interrupted

__all__ = ["MANIFEST", "MARKS", "ResultFolderError", "add_files", "check_target", "enclosing_result",
           "manifest_marks", "replacing", "run_id_of", "verify"]

MANIFEST = "manifest.json"
SUMMARY = "summary.json"
MANIFEST_FORMAT = 1
MARKS = ("partial", "simulated_until_s", "events", "table_format")
"""The manifest's keys beside run_id and files, each present only when it applies: ``partial``
(true: the run was interrupted and the folder holds what was simulated until
``simulated_until_s``), ``events`` (what the event-log file keeps when not every record: ``none``
or event kinds), ``table_format`` (``parquet`` or ``both`` when the tables are not CSV only)."""
_SHOWN = 4  # file names listed in an error before "and N more"


class ResultFolderError(ValueError):
    """A result folder that cannot be written (a bad path, a folder that is not a result) or
    cannot be trusted (files that disagree with its manifest)."""


def run_id_of(effective_scenario: Mapping[str, Any], seed: int) -> str:
    """The id of the run of ``effective_scenario`` (``Scenario.to_effective_dict()``) with ``seed``
    (which replaces the scenario's own) under this mailsim version."""
    from . import __version__

    what = json.dumps({"mailsim": __version__, "scenario": {**effective_scenario, "seed": seed}},
                      sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(what.encode("utf-8")).hexdigest()[:32]


# ---- before writing ------------------------------------------------------------------------------


def check_target(folder: str | Path) -> Path:
    """The folder a result for ``folder`` would be written to (a symlink's target), after checking
    that it can be: raises :class:`ResultFolderError` saying what is wrong. Creates nothing."""
    target = _target(folder)
    if target.parent == target:
        raise ResultFolderError(f"{folder} is the root of the file system, not a result folder")
    if _exists(target):
        if not target.is_dir():
            raise ResultFolderError(f"{folder} is a file, not a folder: give the result folder a new name")
        if _holds(Path.cwd().resolve(), target.resolve()):
            raise ResultFolderError(f"{folder} holds the current folder: a result cannot replace it")
        if not _is_result(target) and _listing(target, folder):
            raise ResultFolderError(
                f"{folder} holds files but is not a mailsim result folder (it has no usable {SUMMARY}); "
                "it is left as it is: choose another folder, or empty this one")
    ancestor = target.parent
    while not _exists(ancestor):
        ancestor = ancestor.parent
    outer = enclosing_result(ancestor)
    if outer is not None:
        raise ResultFolderError(f"{folder} is inside the result folder {outer}, which would no longer hold "
                                "one run: choose a folder outside it")
    if not ancestor.is_dir():
        raise ResultFolderError(f"cannot write {folder}: {ancestor} is a file, not a folder")
    probe = ancestor / f".mailsim-probe-{uuid.uuid4().hex[:12]}"
    try:
        probe.mkdir()
        probe.rmdir()
    except OSError as error:
        raise ResultFolderError(f"cannot write {folder}: {ancestor} is not writable ({error.strerror})") from None
    return target


def enclosing_result(path: str | Path) -> Path | None:
    """The result folder (one with a manifest and a mailsim summary.json) that is ``path`` or holds
    it, or None."""
    start = Path(os.path.abspath(path))
    return next((p for p in (start, *start.parents) if (p / MANIFEST).is_file() and _is_result(p)), None)


def _target(folder: str | Path) -> Path:
    path = Path(os.path.abspath(folder))
    return path.resolve() if path.is_symlink() else path


def _exists(path: Path) -> bool:
    try:
        os.stat(path)
    except FileNotFoundError:
        return False
    except NotADirectoryError:
        return False
    except OSError as error:
        raise ResultFolderError(f"cannot use {path}: {error.strerror}") from None
    return True


def _holds(inner: Path, outer: Path) -> bool:
    return inner == outer or outer in inner.parents


def _listing(folder: Path, shown: str | Path) -> list[str]:
    try:
        return sorted(p.name for p in folder.iterdir())
    except OSError as error:
        raise ResultFolderError(f"cannot read {shown}: {error.strerror}") from None


def _is_result(folder: Path) -> bool:
    """Whether ``folder`` was written by mailsim: its summary.json names a scenario and a seed."""
    try:
        summary = json.loads((folder / SUMMARY).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(summary, dict) and "name" in summary and "seed" in summary


# ---- writing -------------------------------------------------------------------------------------


@contextmanager
def replacing(folder: str | Path, run_id: str, marks: Mapping[str, Any] | None = None) -> Iterator[Path]:
    """Yield a new empty folder beside ``folder``; when the block ends without an exception, write
    the manifest of ``run_id`` (with ``marks``, see :func:`write_manifest`) into it and swap it in
    for ``folder`` (whose old files all go).

    On any exception, KeyboardInterrupt included, the new folder is removed and ``folder`` is
    left as it was; an OSError is raised again as :class:`ResultFolderError`.
    """
    target = check_target(folder)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.with_name(f".{target.name}.mailsim-new-{uuid.uuid4().hex[:12]}")
        staging.mkdir()
    except OSError as error:
        raise ResultFolderError(f"cannot write {folder}: {error.strerror}") from None
    try:
        yield staging
        write_manifest(staging, run_id, marks)
        check_target(target)  # it may have changed while the run was being written
        raise_if_interrupted()  # a Ctrl-C Python swallowed (in a weakref callback, say) still stops the swap
        _swap(staging, target)
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise ResultFolderError(f"could not write the result into {folder} ({error}); "
                                f"{folder} is as it was") from error
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _swap(staging: Path, target: Path) -> None:
    """Put ``staging`` in ``target``'s place: one rename, or two when ``target`` holds files."""
    if _exists(target):
        os.chmod(staging, stat.S_IMODE(target.stat().st_mode))
    if not _exists(target) or not any(target.iterdir()):
        os.replace(staging, target)  # a rename replaces an empty folder in one step
        return
    old = target.with_name(f".{target.name}.mailsim-old-{uuid.uuid4().hex[:12]}")
    os.rename(target, old)
    try:
        os.rename(staging, target)
    except BaseException:
        os.rename(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)


def write_manifest(folder: Path, run_id: str, marks: Mapping[str, Any] | None = None) -> Path:
    """Write ``folder``'s manifest.json: ``run_id``, ``marks`` (what sets this folder apart from a
    whole run's with default outputs, such as ``"partial": true`` and the simulated time reached;
    see :data:`MARKS`) and the sha256 and size of every file in it."""
    files = {name: {"sha256": _sha256(folder / name), "size_bytes": (folder / name).stat().st_size}
             for name in _files(folder) if name != MANIFEST}
    manifest = {"format": MANIFEST_FORMAT, "run_id": run_id, **(marks or {}), "files": files}
    path = folder / MANIFEST
    path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return path


def add_files(folder: str | Path, files: Mapping[str, bytes]) -> list[Path]:
    """Add (or replace) ``files`` (path inside the folder -> content) in the result folder
    ``folder``, which must :func:`verify`; the folder is swapped whole, manifest updated, so it
    never holds a half-written file. Returns the files' paths as seen through ``folder``."""
    run_id = verify(folder)
    source = _target(folder)
    new = {Path(name).as_posix() for name in files}
    with replacing(source, run_id, manifest_marks(source)) as staging:
        for name in _files(source, hidden=True):
            if name != MANIFEST and name not in new:
                _link_or_copy(source / name, staging / name)
        for name, data in files.items():
            path = staging / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    return [Path(folder) / name for name in files]


def _link_or_copy(source: Path, copy: Path) -> None:
    copy.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, copy)  # the file is not written again, so sharing its inode is safe
    except OSError:
        shutil.copy2(source, copy)


# ---- reading -------------------------------------------------------------------------------------


def verify(folder: str | Path) -> str:
    """The run_id of the result folder ``folder`` after checking that its files are exactly the ones
    its manifest lists, unchanged, and that summary.json is of the same run.

    Raises FileNotFoundError when there is no such folder, :class:`ResultFolderError` otherwise.
    """
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"no result folder {root}")
    manifest = _read_manifest(root)
    run_id: str = manifest["run_id"]
    listed: dict[str, Any] = manifest["files"]
    on_disk = set(_files(root)) - {MANIFEST}
    problems = []
    missing = sorted(set(listed) - on_disk)
    if missing:
        problems.append(f"missing {_names(missing)}")
    extra = sorted(on_disk - set(listed))
    if extra:
        problems.append(f"not part of the run {_names(extra)}")
    changed = [n for n in sorted(on_disk & set(listed))
               if not isinstance(listed[n], dict) or _sha256(root / n) != listed[n].get("sha256")]
    if changed:
        problems.append(f"changed since the run {_names(changed)}")
    summary_id = _summary_run_id(root)
    if SUMMARY not in missing and summary_id != run_id:
        problems.append(f"{SUMMARY} is of run {summary_id}")
    if problems:
        raise ResultFolderError(f"{root} does not hold one whole run (run {run_id} by its {MANIFEST}): "
                                f"{'; '.join(problems)}. Run the scenario again into a folder of its own")
    return run_id


def manifest_marks(folder: str | Path) -> dict[str, Any]:
    """The :data:`MARKS` the manifest of the result folder ``folder`` has (after :func:`verify`)."""
    manifest = _read_manifest(Path(folder))
    return {key: manifest[key] for key in MARKS if key in manifest}


def _read_manifest(root: Path) -> dict[str, Any]:
    path = root / MANIFEST
    if not path.is_file():
        reason = "a folder from an older mailsim, or not a result folder" if (root / SUMMARY).is_file() \
            else "not a result folder"
        raise ResultFolderError(f"{root} has no {MANIFEST} ({reason}): run the scenario again to write it")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ResultFolderError(f"{path}: not a readable manifest ({error})") from None
    if (not isinstance(manifest, dict) or not isinstance(manifest.get("run_id"), str)
            or not isinstance(manifest.get("files"), dict)):
        raise ResultFolderError(f"{path}: not a mailsim manifest (no run_id and files)")
    return manifest


def _summary_run_id(root: Path) -> str | None:
    try:
        summary = json.loads((root / SUMMARY).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return summary.get("run_id") if isinstance(summary, dict) else None


def _names(names: list[str]) -> str:
    more = len(names) - _SHOWN
    return ", ".join(names[:_SHOWN]) + (f" and {more} more" if more > 0 else "")


def _files(folder: Path, hidden: bool = False) -> list[str]:
    """The files under ``folder`` as sorted POSIX paths relative to it; without ``hidden``, those
    with a part starting with a dot (editor and notebook droppings) are left out."""
    names = []
    for path in folder.rglob("*"):
        relative = path.relative_to(folder)
        if (path.is_file() or path.is_symlink()) and (hidden or not any(p.startswith(".") for p in relative.parts)):
            names.append(relative.as_posix())
    return sorted(names)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
