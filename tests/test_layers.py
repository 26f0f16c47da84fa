"""The layers the folders show: imports point down only (web -> core -> packages and storage)."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "fenfa_lib"
WEB_FRAMEWORKS = ("flask", "werkzeug", "waitress", "markupsafe", "jinja2")
# Leaves any layer may use: they import nothing of Fenfa but each other.
LEAVES = ("fenfa_lib.config", "fenfa_lib.text")


def module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imported_modules(path):
    """Every module `path` imports, by its full dotted name."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def in_layer(name, *prefixes):
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


def test_the_layers_are_there_and_their_imports_are_seen():
    assert {"fenfa_lib.web", "fenfa_lib.web.admin", "fenfa_lib.packages", "fenfa_lib.storage",
            "fenfa_lib.models", "fenfa_lib.errors"} <= set(MODULES)
    assert {"flask.request", "fenfa_lib.web.urls", "fenfa_lib.catalog"} <= imported_modules(
        MODULES["fenfa_lib.web.public"])


@pytest.mark.parametrize("name", [name for name in MODULES if not in_layer(name, "fenfa_lib.web")])
def test_only_the_web_edge_imports_the_web_edge(name):
    assert not [module for module in imported_modules(MODULES[name]) if in_layer(module, "fenfa_lib.web")]


@pytest.mark.parametrize("name", [name for name in MODULES if not in_layer(name, "fenfa_lib.web")])
def test_the_core_and_below_never_read_the_request(name):
    forbidden = {"flask.request", "flask.session", "werkzeug.wrappers"}
    assert not imported_modules(MODULES[name]) & forbidden


LOWEST = [name for name in MODULES if in_layer(name, "fenfa_lib.packages", "fenfa_lib.storage")]


@pytest.mark.parametrize("name", LOWEST)
def test_parsers_and_storage_know_nothing_of_the_web_or_the_core(name):
    imported = imported_modules(MODULES[name])
    assert not [module for module in imported if in_layer(module, *WEB_FRAMEWORKS)]
    own = [module for module in imported if in_layer(module, "fenfa_lib")]
    layer = "fenfa_lib.packages" if in_layer(name, "fenfa_lib.packages") else "fenfa_lib.storage"
    assert not [module for module in own if not in_layer(module, layer, *LEAVES)]


def test_boto3_is_imported_only_by_the_s3_storage():
    importers = [name for name, path in MODULES.items() if any(
        in_layer(module, "boto3", "botocore") for module in imported_modules(path))]
    assert importers == ["fenfa_lib.storage.s3"]


@pytest.mark.parametrize("name", LEAVES)
def test_leaves_import_only_leaves(name):
    own = [module for module in imported_modules(MODULES[name]) if in_layer(module, "fenfa_lib")]
    assert not [module for module in own if not in_layer(module, *LEAVES)]


@pytest.mark.parametrize("name", list(MODULES))
def test_modules_stay_small(name):
    assert len(MODULES[name].read_text("utf-8").splitlines()) <= 400
