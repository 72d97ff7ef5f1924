"""List the functions longer than the limit (issue 13: no function over 50 lines in layers/ and functions/).

A function's length runs from its `def` line to its last line, docstring and comments included, so
a function cannot hide its length in prose. Usage: `python scripts/long_functions.py [--max 50] DIR...`;
exit status 1 when any function is over the limit.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

DEFAULT_MAX_LINES = 50


def long_functions(paths: list[Path], max_lines: int) -> list[tuple[Path, int, str, int]]:
    """Every function or method over `max_lines` under `paths`: (file, line, qualified name, length)."""
    found = []
    for path in paths:
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        for file in files:
            found.extend(_long_in_module(file, max_lines))
    return found


def _long_in_module(file: Path, max_lines: int) -> list[tuple[Path, int, str, int]]:
    tree = ast.parse(file.read_text(encoding="utf-8"), filename=str(file))
    found = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (child.end_lineno or child.lineno) - child.lineno + 1
                if length > max_lines:
                    found.append((file, child.lineno, prefix + child.name, length))
                visit(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(tree, "")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max", type=int, default=DEFAULT_MAX_LINES, help="longest function allowed, in lines")
    parser.add_argument("paths", nargs="+", type=Path)
    args = parser.parse_args(argv)
    found = long_functions(args.paths, args.max)
    for file, line, name, length in sorted(found, key=lambda f: -f[3]):
        print(f"{file}:{line}: {name} is {length} lines (limit {args.max})")
    if found:
        print(f"{len(found)} functions over {args.max} lines", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
