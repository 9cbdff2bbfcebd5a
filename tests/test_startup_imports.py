"""What a fresh ``cadenza`` process imports for the commands that must start fast.

Start-up time is mostly imports, so these tests pin down, by name, the heavy
modules a command must *not* load: each check runs the command in a new
interpreter through ``cadenza.cli.main.main`` and reads ``sys.modules``
afterwards. The time itself is measured by ``bench/run.py`` (W4, W5), not
asserted here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# Runs ``main`` with the given arguments, then writes the names of every loaded
# module to the file named by the environment. ``--version`` ends in SystemExit
# from argparse, which is caught so that the modules are still written.
_PROBE = """
import json, os, sys
from cadenza.cli.main import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
with open(os.environ["STARTUP_PROBE_OUT"], "w") as out:
    json.dump(sorted(sys.modules), out)
sys.exit(code)
"""

#: Clients of services and optional features: a local run on SQLite uses none.
_SERVICE_CLIENTS = (
    "asyncssh",
    "boto3",
    "botocore",
    "cloudevents",
    "fastapi",
    "httpx",
    "jsonata",
    "nats",
    "psycopg",
    "pydantic",
    "redis",
    "starlette",
    "uvicorn",
)

_TINY = "version: 1.0\ntasks:\n  only:\n    action: core.noop\n"


def _probe(args: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run ``cadenza ARGS`` in a fresh interpreter; its result and loaded modules."""
    out = cwd / "modules.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CADENZA_")}
    env["STARTUP_PROBE_OUT"] = str(out)
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.exists(), f"the probe wrote no module list: {done.stderr}"
    return done, set(json.loads(out.read_text()))


def _loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    """Those of ``names`` that are loaded, as packages or through any submodule."""
    return sorted(
        name for name in names if any(m == name or m.startswith(name + ".") for m in modules)
    )


def test_version_imports_no_command(tmp_path: Path) -> None:
    done, modules = _probe(["--version"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("cadenza "), done.stdout
    # What the commands need (the engine's activity runner, stores, languages'
    # validators and templates) is imported by the command that runs, not by the parser.
    assert (
        _loaded(
            modules,
            (
                "asyncio",
                "cadenza.cli.commands",
                "cadenza.engine.engine",
                "cadenza.store.sqlite",
                "cadenza.store.postgres",
                "jinja2",
                "jsonschema",
                "sqlite3",
                "yaql",
                *_SERVICE_CLIENTS,
            ),
        )
        == []
    )


def test_run_of_a_tiny_workflow_on_sqlite_imports_no_service_client(tmp_path: Path) -> None:
    (tmp_path / "tiny.yaml").write_text(_TINY)
    store = f"sqlite:///{tmp_path / 'run.db'}"
    done, modules = _probe(["run", "tiny.yaml", "--json", "--store", store], tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "succeeded"
    assert "cadenza.store.sqlite" in modules  # the probe saw the run's imports
    assert (
        _loaded(
            modules,
            (
                "asyncio",
                "cadenza.api",
                "cadenza.packs.pack",
                "cadenza.store.blob_directory",
                "cadenza.store.blob_s3",
                "cadenza.store.blob_sweep",
                "cadenza.store.postgres",
                "cadenza.triggers",
                "cadenza.ui",
                "cryptography",
                "jinja2",
                *_SERVICE_CLIENTS,
            ),
        )
        == []
    )


def test_an_idle_worker_on_sqlite_imports_no_validator_crypto_or_blob_store(tmp_path: Path) -> None:
    # A worker with nothing to do compiles no definition (so no schema validator),
    # without a key file decrypts nothing (so no cryptography), and keeps blobs in
    # its store's table unless told to keep them in a directory or a bucket.
    store = f"sqlite:///{tmp_path / 'worker.db'}"
    done, modules = _probe(["worker", "--store", store, "--exit-when-idle"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "cadenza.store.sqlite" in modules  # the probe saw the worker's imports
    assert (
        _loaded(
            modules,
            (
                "asyncio",
                "cadenza.api",
                "cadenza.store.blob_directory",
                "cadenza.store.blob_s3",
                "cadenza.store.blob_sweep",
                "cadenza.store.postgres",
                "cryptography",
                "difflib",
                "jinja2",
                "jsonschema",
                *_SERVICE_CLIENTS,
            ),
        )
        == []
    )


def test_jinja_is_imported_only_by_a_definition_that_uses_it(tmp_path: Path) -> None:
    # Checked in-process through the expression modules, not the CLI: the CLI's
    # pack support imports Jinja for pack actions of its own.
    script = (
        "import sys\n"
        "from cadenza.expressions import jinja_language, syntax\n"
        "assert not syntax.syntax_errors('<% ctx(x) %> and plain text')\n"
        "assert not jinja_language.has_expressions('<% ctx(x) %>')\n"
        "before = 'jinja2' in sys.modules\n"
        "assert not syntax.syntax_errors('{{ ctx(x) }}')\n"
        "print(before, 'jinja2' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True"]


def test_the_orquesta_schema_is_a_valid_draft_4_schema() -> None:
    # Checked here rather than when the schema module is imported, which would
    # cost every process that validates a definition.
    import jsonschema

    from cadenza.interpreters.orquesta.validation.schema import WORKFLOW_SCHEMA

    jsonschema.Draft4Validator.check_schema(WORKFLOW_SCHEMA)


def _dist_info(site: Path, folder: str, entry_points: str) -> None:
    dist_info = site / folder
    dist_info.mkdir(parents=True)
    name, version = folder.removesuffix(".dist-info").split("-")
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    )
    (dist_info / "entry_points.txt").write_text(entry_points)


def test_entry_points_are_read_as_importlib_metadata_reads_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The front ends' own reader of entry points (which spares importing
    # importlib.metadata) finds what importlib.metadata finds, in its order: the
    # first distribution of a name on the path hides a later one of the same name.
    from importlib.metadata import entry_points

    from cadenza.engine.front_ends import ENTRY_POINT_GROUP, registered

    first, second = tmp_path / "first", tmp_path / "second"
    _dist_info(
        first,
        "Startup_Probe-1.0.dist-info",
        "# a comment\n[other]\nx = nowhere:x\n\n"
        f"[{ENTRY_POINT_GROUP}]\nprobe-b = probe_b.front:create [extra]\n"
        "probe-a=probe_a:create\n",
    )
    _dist_info(second, "startup.probe-2.0.dist-info", f"[{ENTRY_POINT_GROUP}]\nhidden = h:create\n")
    _dist_info(second, "another_probe-1.0.dist-info", f"[{ENTRY_POINT_GROUP}]\nprobe-c = c:make\n")
    monkeypatch.syspath_prepend(str(second))
    monkeypatch.syspath_prepend(str(first))
    for group in (ENTRY_POINT_GROUP, "console_scripts", "other"):
        expected = [(e.name, e.value) for e in entry_points(group=group)]
        assert [(r.name, r.value) for r in registered(group)] == expected
    kinds = {r.name: r.value for r in registered(ENTRY_POINT_GROUP)}
    assert kinds["probe-b"] == "probe_b.front:create [extra]"
    assert "probe-c" in kinds and "hidden" not in kinds
    assert {"orquesta", "states"} <= kinds.keys()


def test_an_entry_point_loads_the_object_it_names() -> None:
    from cadenza.engine.front_ends import Registration
    from cadenza.interpreters.orquesta import frontend

    assert Registration("x", "cadenza.interpreters.orquesta.frontend:create").load() is (
        frontend.create
    )
    assert Registration("x", "cadenza.interpreters.orquesta.frontend").load() is frontend
    with pytest.raises(AttributeError):
        Registration("x", "cadenza.interpreters.orquesta.frontend:nothing_here").load()


def test_yaql_is_imported_by_the_first_yaql_evaluation_not_before(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from cadenza.expressions import yaql_language\n"
        "from cadenza.expressions.scope import Scope\n"
        "before = 'yaql' in sys.modules\n"
        "value = yaql_language.evaluate('<% ctx(n) + 1 %>', Scope({'n': 2}))\n"
        "print(before, 'yaql' in sys.modules, value)\n"
    )
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True", "3"]


# The YAQL parser's tables: built once, then read from the user's cache.

_EXPRESSIONS = (
    "1 + 2 * 3 - 4 / 2",
    "$.items.where($ > 1).select($ * 2)",
    "not true or false and $.a[0].b",
    "let(x => 1) -> [$x, {k => v}, -$x]",
    "ctx(name) in list(1, 2) = true",
)


@pytest.fixture
def yaql_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache directory, used for the YAQL tables."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "cadenza"


def _refuse_to_build(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make building YAQL's LALR tables fail, so only cached tables can serve."""
    import yaql._ply.yacc as yacc

    class NoBuilding:
        def __init__(self, *args: object, **kwargs: object) -> None:
            raise AssertionError("the tables were built, not read from the cache")

    monkeypatch.setattr(yacc, "LRTable", NoBuilding)


def _parsed(engine: object) -> list[str]:
    return [str(engine(text)) for text in _EXPRESSIONS]  # type: ignore[operator]


def test_yaql_tables_are_built_once_then_read_from_the_cache(
    yaql_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import yaql._ply.yacc as yacc
    import yaql.language.factory as yaql_factory

    from cadenza.expressions import yaql_tables

    plys_own = yacc.LRTable
    first = yaql_tables.create_engine()
    assert yacc.LRTable is plys_own  # put back after the build
    files = list(yaql_cache.glob("yaql-lalr-*.json"))
    assert len(files) == 1
    _refuse_to_build(monkeypatch)
    cached = yaql_tables.create_engine()
    monkeypatch.undo()
    reference = yaql_factory.YaqlFactory().create()
    assert cached.parser.action == reference.parser.action
    assert cached.parser.goto == reference.parser.goto
    assert _parsed(cached) == _parsed(first) == _parsed(reference)
    assert cached("$.items.where($ > 1).select($ * 2)").evaluate(data={"items": [1, 2, 3]}) == [
        4,
        6,
    ]


def test_a_corrupt_or_foreign_table_file_is_rebuilt(
    yaql_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cadenza.expressions import yaql_tables

    yaql_tables.create_engine()
    (path,) = yaql_cache.glob("yaql-lalr-*.json")
    good = path.read_text()
    for bad in ("{not json", '{"digest": "someone else", "action": {}, "goto": {}}', "[]"):
        path.write_text(bad)
        assert _parsed(yaql_tables.create_engine()) == _parsed(yaql_tables.create_engine())
        assert path.read_text() == good  # replaced by the right tables
    _refuse_to_build(monkeypatch)
    yaql_tables.create_engine()  # and read from there again


def test_an_unwritable_cache_only_costs_the_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cadenza.expressions import yaql_tables

    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    engine = yaql_tables.create_engine()
    assert engine("1 + 2").evaluate() == 3
    assert blocker.read_text() == ""


def test_wake_sockets_of_another_store_load_no_sqlite_store() -> None:
    # A PostgreSQL engine asks for wake-up sockets too: the answer (none) must not
    # cost it the SQLite store's modules.
    script = (
        "import sys\n"
        "from cadenza.engine.wake_sockets import WakeSockets\n"
        "print(WakeSockets.of_store(object()), 'cadenza.store.sqlite.store' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["None", "False"]
