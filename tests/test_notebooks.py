"""Every notebook in notebooks/ runs top to bottom from a fresh kernel, in under a minute.

The notebooks are executed with nbclient (kernel ``python3``, working directory the notebook's
folder, as Jupyter runs them), all at once to keep the suite quick; their kernels are started one
after the other (kernels starting together can pick the same free port, and one dies). The files
in the repository must be stored without outputs.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
LIMIT_S = 60.0
CELL_TIMEOUT_S = 120


async def _execute(path: Path, starting: asyncio.Lock) -> tuple[nbformat.NotebookNode, float, BaseException | None]:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, kernel_name="python3", timeout=CELL_TIMEOUT_S,
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.monotonic()
    try:
        client.km = client.create_kernel_manager()
        async with starting:  # until this kernel answers, holding its ports, no other starts
            await client.async_start_new_kernel()
            await client.async_start_new_kernel_client()
        await client.async_execute()
    except Exception as error:
        if client.km is not None and client.km.has_kernel:  # a kernel that never ran the notebook
            await client.km.shutdown_kernel(now=True)
        return nb, time.monotonic() - start, error
    return nb, time.monotonic() - start, None


async def _execute_all() -> dict[str, tuple[nbformat.NotebookNode, float, BaseException | None]]:
    starting = asyncio.Lock()
    done = await asyncio.gather(*(_execute(p, starting) for p in NOTEBOOKS))
    return {p.name: outcome for p, outcome in zip(NOTEBOOKS, done, strict=True)}


@pytest.fixture(scope="module")
def executed() -> dict[str, tuple[nbformat.NotebookNode, float, BaseException | None]]:
    return asyncio.run(_execute_all())


def test_the_notebooks_are_there() -> None:
    names = [p.stem for p in NOTEBOOKS]
    assert names == ["01-quickstart", "02-outages-and-retry-policies", "03-pop3-imap-webmail", "04-greylisting",
                     "05-capacity-planning"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, "strip outputs before saving"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom_quickly(path: Path, executed: dict) -> None:
    nb, elapsed_s, error = executed[path.name]
    assert error is None, f"{path.name} failed:\n{error}"
    errors = [o for cell in nb.cells for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    assert elapsed_s < LIMIT_S, f"{path.name} took {elapsed_s:.1f} s"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_shows_its_plots(path: Path, executed: dict) -> None:
    nb, _elapsed_s, error = executed[path.name]
    assert error is None
    images = [o for cell in nb.cells for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
    plotting_cells = [c for c in nb.cells
                      if c.cell_type == "code" and ("plot_" in c.source or "cdf_figure" in c.source)]
    assert len(images) == len(plotting_cells) > 0
