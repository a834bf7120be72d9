"""The core stays platform-neutral: bot/ never imports discord, slack or adapters/."""

import ast
from pathlib import Path

FORBIDDEN = {"discord", "slack_bolt", "slack_sdk", "adapters"}
CORE = Path(__file__).resolve().parents[1] / "bot"


def test_core_imports_no_platform_library() -> None:
    offenders = []
    for path in CORE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []
    assert len(list(CORE.rglob("*.py"))) > 5
