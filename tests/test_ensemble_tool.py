"""tools/ensemble_eval.py: the mean of several models' landmarks, scored as heatmark eval scores one model."""

import re
import runpy
from pathlib import Path

import pytest

TOOL = Path(__file__).parents[1] / "tools" / "ensemble_eval.py"


def test_a_model_averaged_with_itself_scores_as_itself(fixtures, capsys):
    pytest.importorskip("onnxruntime")
    main = runpy.run_path(str(TOOL))["main"]
    assert main(["fast", "fast", "default", "--root", str(fixtures / "300w")]) == 0
    out = capsys.readouterr().out
    singles = [(float(a), float(b)) for a, b in re.findall(r"^([\d.]+)  \S+  \(heatmark eval: ([\d.]+)\)", out, re.M)]
    assert len(singles) == 3 and all(a == pytest.approx(b, abs=1e-3) for a, b in singles)  # the tool's NME = eval's
    pairs = re.search(r"ensembles of 2: best ([\d.]+), mean [\d.]+ \(3 combinations\)", out)
    assert pairs and "ensembles of 3:" in out
    # fast + fast is one of the pairs: its NME is fast's, so the best pair is at most that
    assert float(pairs.group(1)) <= singles[0][0] + 1e-3
    with pytest.raises(SystemExit, match="at least two"):
        main(["fast", "--root", str(fixtures / "300w")])
