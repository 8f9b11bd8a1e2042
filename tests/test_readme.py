"""The README's library example runs as written (with a short schedule)."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_library_example_runs(tmp_path, monkeypatch):
    section = README.read_text().split("## The library", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert "model.train()" in code
    # the example trains the paper's schedule (~2000 steps per stage) on 5000 cells;
    # two epochs on 500 cells here
    assert "hub_network(seed=0)" in code
    code = code.replace("hub_network(seed=0)", "hub_network(n_cells=500, seed=0)")
    code = code.replace("model.train()", "model.train(max_epochs=2, progress_bar=False)")
    monkeypatch.chdir(tmp_path)  # the example saves "my_model" in the working directory
    namespace: dict = {}
    exec(compile(code, str(README), "exec"), namespace)
    assert (tmp_path / "my_model").exists()
    assert set(namespace["hubs"].index) <= set(namespace["adata"].var_names)
    assert namespace["z"].shape == (500, 2)
