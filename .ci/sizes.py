"""Every module of app/ at most 400 lines, every function at most 60 (issue 13's limits).

A module that grows past them is split by sub-topic (STYLE.md); this check says which and where.
Run by .ci/check; exits 1 naming each one over.
"""

import ast
import sys
from pathlib import Path

MODULE_LINES, FUNCTION_LINES = 400, 60


def over(root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        if (lines := source.count("\n")) > MODULE_LINES:
            found.append(f"{path}: {lines} lines (at most {MODULE_LINES})")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                length = (node.end_lineno or node.lineno) - start + 1
                if length > FUNCTION_LINES:
                    found.append(
                        f"{path}:{node.lineno}: {node.name} is {length} lines "
                        f"(at most {FUNCTION_LINES})"
                    )
    return found


if __name__ == "__main__":
    problems = over(Path(sys.argv[1] if len(sys.argv) > 1 else "app"))
    print("\n".join(problems) or "sizes: every module and function within bounds")
    sys.exit(1 if problems else 0)
