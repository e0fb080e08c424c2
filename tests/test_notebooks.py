"""The lesson notebooks are stored clean and read as lessons (they are executed by ``pytest --nbmake notebooks/``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_the_three_lessons_exist():
    assert [path.name for path in NOTEBOOKS] == ["01_tour.ipynb", "02_policy_experiment.ipynb", "03_sweeps_and_sensitivity.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_is_stripped_and_ends_with_questions(path):
    notebook = json.loads(path.read_text(encoding="utf-8"))
    cells = notebook["cells"]
    code = [cell for cell in cells if cell["cell_type"] == "code"]
    assert code, "a lesson runs code"
    for cell in code:
        assert cell.get("outputs", []) == [] and cell.get("execution_count") is None, "outputs must be stripped"
    markdown = [cell for cell in cells if cell["cell_type"] == "markdown"]
    assert len(markdown) >= len(code) / 2, "explanations between the code cells"
    assert "".join(markdown[0]["source"]).startswith("# "), "a title first"
    assert "Questions for students" in "".join(markdown[-1]["source"])
