"""One module per workflow stage (workflow/rules/<stage>.smk): read files, call the science,
write files. Each function has its rule's name and takes keywords only; every output is
written atomically. They can equally be called from Python without Snakemake.
"""

from __future__ import annotations

import ast
import functools
import hashlib
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]
STAGES = (
    "demo", "picking", "patches", "degradation", "training", "restoration", "evaluation", "export"
)  # fmt: skip


def _module_path(name: str) -> Path | None:
    """The source file of package module ``centriole_sr.<...>``, or None for other modules."""
    parts = name.split(".")
    if parts[0] != "centriole_sr":
        return None
    base = PACKAGE.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imported_modules(path: Path) -> set[str]:
    """Package modules that ``path`` imports anywhere (module level or inside functions)."""
    names = _imported_names(path.read_text(), str(path))
    return {name for name in names if _module_path(name) is not None}


@functools.cache
def _imported_names(source: str, filename: str) -> frozenset[str]:
    """Every module (and ``module.name``) that ``source`` imports absolutely. Cached on the
    source: every rule asks for its stage's fingerprint, so each module is parsed once per
    Snakemake start, not once per rule, and an edited module is parsed anew."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source, filename=filename)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return frozenset(names)


def stage_modules(stage: str) -> list[Path]:
    """The source files a stage runs: its module, every package module it imports, and theirs,
    with the package's ``__init__``, sorted."""
    todo, seen = [f"centriole_sr.stages.{stage}", "centriole_sr"], set()
    while todo:
        name = todo.pop()
        path = _module_path(name)
        if path is None or path in seen:
            continue
        seen.add(path)
        todo += sorted(_imported_modules(path))
        todo += [".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)]
    return sorted(seen)


def fingerprint(stage: str) -> str:
    """A digest of the source of every module :func:`stage_modules` lists: a rule's params carry
    it, so that editing one of them reruns exactly the rules of the stages that use it."""
    digest = hashlib.sha256()
    for path in stage_modules(stage):
        digest.update(path.relative_to(PACKAGE).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]
