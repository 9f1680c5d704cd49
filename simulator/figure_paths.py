"""Where ``mailsim show`` and ``mailsim plot -o`` may write a figure, checked before drawing.

A figure is never written over something else: not over a folder, not over an existing file
that is not a PNG (a user's notes or data), not under a file, and not into a result folder
(which would then no longer match its manifest; ``mailsim plot DIR`` adds files to DIR's own
folder the whole-folder way instead). Nothing here prints.
"""

from __future__ import annotations

import os
from pathlib import Path

from .resultdir import enclosing_result

__all__ = ["FigurePathError", "check_figure_file", "check_figure_folder"]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class FigurePathError(ValueError):
    """A place a figure must not be written to."""


def check_figure_file(path: Path, own_result: Path | None = None) -> None:
    """Check that a PNG may be written at ``path``; ``own_result`` is the result folder being
    plotted, whose files are added through its manifest (so a path inside it is fine)."""
    if path.suffix.lower() != ".png":
        raise FigurePathError(f"{path}: figures are written as PNG; give a file name ending in .png")
    if path.is_dir():
        raise FigurePathError(f"{path} is a folder; give a file name ending in .png")
    if path.exists() and not _is_png(path):
        raise FigurePathError(f"{path} exists and is not a PNG; it is left as it is: choose another file name")
    _check_place(path.parent, path, own_result)


def check_figure_folder(path: Path, own_result: Path | None = None) -> None:
    """Check that PNGs may be written into the folder ``path`` (created if missing)."""
    if path.exists() and not path.is_dir():
        raise FigurePathError(f"{path} is a file, not a folder: give the plots a folder")
    _check_place(path, path, own_result)


def _check_place(folder: Path, path: Path, own_result: Path | None) -> None:
    """Check the ``folder`` that ``path`` (the file or folder named by the user) is written into."""
    for parent in (Path(os.path.abspath(folder)), *Path(os.path.abspath(folder)).parents):
        if parent.exists():
            if not parent.is_dir():
                raise FigurePathError(f"cannot write {path}: {parent} is a file, not a folder")
            break
    outer = enclosing_result(folder)
    if outer is not None and (own_result is None or outer.resolve() != own_result.resolve()):
        raise FigurePathError(f"{path} is inside the result folder {outer}, which would no longer hold one run: "
                              "choose a place outside it")


def _is_png(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(len(PNG_SIGNATURE)) == PNG_SIGNATURE
    except OSError:
        return False
