"""Which functions of Sump a function may call, read from the source: for route inventories that ask what a
route's handler can reach (a session issued, a per-address limit counted).

A call is resolved by name, as the code imports it (`from sump.sessions import service as sessions` then
`sessions.issue(...)`), through the re-exports of packages; a function passed by name (a callback, a dependency)
counts as called. Calls on objects (`call.limiter.hit(...)`) are kept as written, for searching. Local
variables never resolve to a module's function of the same name.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import sump

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef


def _module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(tree: ast.Module, package: str) -> dict[str, str]:
    """Each name the module imports, anywhere in it, with what it names (`module.name`)."""
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                aliases[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0]
                )
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join([*parts, base] if base else parts)
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{base}.{alias.name}"
    return aliases


def _statements(body: Iterable[ast.stmt]) -> Iterator[ast.stmt]:
    """The statements of a block and of the blocks of its `if`, `try`, `with` and loops (not of its functions and
    classes): a function defined under an `if` is the block's own."""
    for node in body:
        yield node
        if isinstance(node, FunctionNode | ast.ClassDef):
            continue
        for name in ("body", "orelse", "finalbody"):
            inner = getattr(node, name, None)
            if isinstance(inner, list):
                yield from _statements(inner)
        for handler in getattr(node, "handlers", None) or ():
            yield from _statements(handler.body)


def _locals(function: FunctionNode) -> set[str]:
    arguments = function.args
    names = {argument.arg for argument in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]}
    names |= {argument.arg for argument in (arguments.vararg, arguments.kwarg) if argument is not None}
    for node in ast.walk(function):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


@dataclass
class CallGraph:
    imports: dict[str, dict[str, str]] = field(default_factory=dict)
    functions: set[str] = field(default_factory=set)
    calls: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    written: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    @classmethod
    def of_sump(cls) -> CallGraph:
        root = Path(sump.__file__).parent
        graph = cls()
        trees: dict[str, ast.Module] = {}
        for path in sorted(root.rglob("*.py")):
            name = _module_name(root, path)
            package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
            trees[name] = ast.parse(path.read_text())
            graph.imports[name] = _imports(trees[name], package)
        for name, tree in trees.items():
            graph._collect(name, tree.body, "", {})
        return graph

    def _collect(self, module: str, body: list[ast.stmt], prefix: str, outer: dict[str, str]) -> None:
        statements = list(_statements(body))
        scope = {
            **outer,
            **{node.name: f"{module}.{prefix}{node.name}" for node in statements if isinstance(node, FunctionNode)},
        }
        for node in statements:
            if isinstance(node, FunctionNode):
                name = f"{module}.{prefix}{node.name}"
                self.functions.add(name)
                self._calls(module, name, node, scope)
                self._collect(module, node.body, f"{prefix}{node.name}.<locals>.", scope)
            elif isinstance(node, ast.ClassDef):
                self._collect(module, node.body, f"{prefix}{node.name}.", scope)

    def _calls(self, module: str, name: str, function: FunctionNode, scope: dict[str, str]) -> None:
        local = _locals(function)
        defaults = [default for default in function.args.kw_defaults if default is not None]
        todo: list[ast.AST] = [*function.args.defaults, *defaults, *function.body]
        while todo:
            node = todo.pop()
            if isinstance(node, FunctionNode | ast.ClassDef):
                continue  # its calls are its own
            todo.extend(ast.iter_child_nodes(node))
            target = self._resolve(module, node, scope, local)
            if target is not None:
                self.calls[name].add(target)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                self.written[name].add(ast.unparse(node.func))

    def _resolve(self, module: str, node: ast.AST, scope: dict[str, str], local: set[str]) -> str | None:
        if isinstance(node, ast.Name) and node.id not in local:
            return scope.get(node.id) or self.imports[module].get(node.id)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id not in local:
            base = self.imports[module].get(node.value.id)
            return f"{base}.{node.attr}" if base else None
        return None

    def canonical(self, target: str, depth: int = 0) -> str:
        """The function `target` names, through the imports of the package it is imported from."""
        if target in self.functions or depth > 8:
            return target
        owner, _, attribute = target.rpartition(".")
        if attribute in self.imports.get(owner, {}):
            return self.canonical(self.imports[owner][attribute], depth + 1)
        if owner and owner not in self.imports:
            resolved = self.canonical(owner, depth + 1)
            if resolved != owner:
                return self.canonical(f"{resolved}.{attribute}", depth + 1)
        return target

    def reach(self, start: str) -> set[str]:
        """`start` and every function of Sump it may call, directly or not."""
        seen, todo = {start}, [start]
        while todo:
            for target in self.calls.get(todo.pop(), ()):
                found = self.canonical(target)
                if found in self.functions and found not in seen:
                    seen.add(found)
                    todo.append(found)
        return seen

    def calls_written(self, functions: Iterable[str]) -> set[str]:
        """The calls on objects the functions make, as written (`call.limiter.hit`)."""
        return {written for function in functions for written in self.written.get(function, ())}
