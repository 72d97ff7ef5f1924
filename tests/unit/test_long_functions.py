"""The function-length gate (scripts/long_functions.py) that `./dev lint` runs on layers/ and functions/."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _gate():
    spec = importlib.util.spec_from_file_location("long_functions", ROOT / "scripts" / "long_functions.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_function_over_the_limit_is_named_with_its_class_and_length(tmp_path):
    # Given a handler module with a short function and a method whose body runs past 50 lines
    body = "\n".join(f"        step_{i} = {i}" for i in range(50))
    source = f"def short():\n    return 1\n\n\nclass Client:\n    def create_order(self):\n{body}\n"
    (tmp_path / "app.py").write_text(source)
    # When the gate reads the folder
    found = _gate().long_functions([tmp_path], max_lines=50)
    # Then only the long method is reported, by its qualified name and length
    assert [(name, length) for _file, _line, name, length in found] == [("Client.create_order", 51)]


def test_the_lambda_code_has_no_function_over_50_lines():
    found = _gate().long_functions([ROOT / "layers", ROOT / "functions"], max_lines=50)
    assert found == []
