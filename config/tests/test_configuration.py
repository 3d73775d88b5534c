"""The configuration an operator reads matches the one the code reads.

Every environment variable `config/settings.py`, `gunicorn.conf.py` and `deploy/serve.sh`
read is listed in `.env.example` and in the README's configuration table, and nothing is
documented there
that nothing reads; every Makefile target is in the README; docker-compose.yml takes its
secrets from the environment (documented in the README's Docker part and `.env.example`)
and restarts what it runs.

The variables are found by walking the two files' syntax trees for `env("NAME")`,
`env.<type>("NAME", ...)`, `os.environ.get("NAME")`, `os.getenv("NAME")` and
`os.environ["NAME"]`. Only literal names can be checked, so a read whose name is computed
(an f-string, a variable) fails the test: name each variable literally.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
READERS = [ROOT / "config" / "settings.py", ROOT / "gunicorn.conf.py"]
ENV_EXAMPLE = ROOT / ".env.example"
README = ROOT / "README.md"
MAKEFILE = ROOT / "Makefile"
COMPOSE = ROOT / "docker-compose.yml"
SERVE = ROOT / "deploy" / "serve.sh"

NAME = r"[A-Z][A-Z0-9_]*"
# `env` methods that take something other than a variable name first.
ENV_METHODS_NOT_READING = {"read_env"}


def _is_os_environ(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "environ"
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
    )


def _reads_a_variable(call: ast.Call) -> bool:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id == "env"
    if not isinstance(func, ast.Attribute):
        return False
    if isinstance(func.value, ast.Name) and func.value.id == "env":
        return func.attr not in ENV_METHODS_NOT_READING
    if isinstance(func.value, ast.Name) and func.value.id == "os":
        return func.attr == "getenv"
    return _is_os_environ(func.value) and func.attr == "get"


def variables_read(source: str) -> tuple[set[str], list[int]]:
    """The variable names `source` reads, and the lines of reads whose name is not literal."""
    names: set[str] = set()
    computed: list[int] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and _reads_a_variable(node):
            key: ast.AST | None = node.args[0] if node.args else None
        elif isinstance(node, ast.Subscript) and _is_os_environ(node.value):
            key = node.slice
        else:
            continue
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            names.add(key.value)
        else:
            computed.append(node.lineno)
    return names, computed


def shell_variables(path: Path) -> set[str]:
    """The variables a shell script reads (`${NAME}`, `${NAME:-default}`, `$NAME`)."""
    return set(re.findall(rf"\$\{{?({NAME})", path.read_text()))


def variables_read_by_the_project() -> set[str]:
    names: set[str] = set()
    for path in READERS:
        found, computed = variables_read(path.read_text())
        assert not computed, f"{path.name}: variable read by a computed name, lines {computed}"
        names |= found
    # And the script that starts the app server (its own lowercase names do not match).
    return names | shell_variables(SERVE)


def env_example_names() -> set[str]:
    """Every `NAME=` or `# NAME=` line of .env.example."""
    return set(re.findall(rf"^(?:#\s*)?({NAME})=", ENV_EXAMPLE.read_text(), re.MULTILINE))


def readme_section(title: str) -> str:
    """The README's `## title` section, up to the next `## ` heading."""
    text = README.read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def first_cells(section: str) -> list[str]:
    """The first cell of every table row in `section`."""
    return [line.split("|")[1] for line in section.splitlines() if line.startswith("|")]


def readme_configuration_names() -> set[str]:
    """The names in the first column of the configuration table (a row may list several)."""
    names: set[str] = set()
    for cell in first_cells(readme_section("Configuration")):
        names.update(re.findall(rf"`({NAME})`", cell))
    return names


def compose_variables() -> set[str]:
    """The variables docker-compose.yml substitutes (`${NAME}`, `${NAME:?...}`, ...)."""
    text = re.sub(r"\$\$", "", COMPOSE.read_text())  # `$$` is a literal dollar sign
    return set(re.findall(rf"\$\{{({NAME})", text))


# --- the walk itself --------------------------------------------------------------------


def test_the_walk_finds_every_form_of_read_and_flags_computed_names():
    source = """
import os
env = environ.Env()
env.read_env(BASE_DIR / ".env")
A = env("ONE")
B = env.bool("TWO", default=False)
C = env.db_url("THREE")
D = os.environ.get("FOUR", "x")
E = os.environ["FIVE"]
F = os.getenv("SIX")
G = env.str(f"{PREFIX}_SEVEN")
H = os.environ[name]
I = other.get("NOT_A_VARIABLE")
"""
    names, computed = variables_read(source)

    assert names == {"ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX"}
    assert computed == [11, 12]


def test_the_walk_finds_what_the_settings_and_gunicorn_read():
    names = variables_read_by_the_project()

    # A few of each file and each form, so that a broken walk cannot pass the checks below.
    assert {"DEBUG", "SECRET_KEY", "DATABASE_URL", "LOG_FORMAT", "ALGORITHM"} <= names
    assert {"GUNICORN_BIND", "GUNICORN_THREADS", "GUNICORN_MAX_REQUESTS"} <= names
    assert "read_env" not in names


# --- every variable is documented, and nothing else ------------------------------------


def test_every_variable_read_is_in_env_example():
    missing = variables_read_by_the_project() - env_example_names()

    assert not missing, f"add to .env.example (as NAME= or # NAME=): {sorted(missing)}"


def test_every_variable_read_is_in_the_readme_configuration_table():
    missing = variables_read_by_the_project() - readme_configuration_names()

    assert not missing, f"add to the README's configuration table: {sorted(missing)}"


def test_the_readme_configuration_table_lists_only_variables_that_are_read():
    stale = readme_configuration_names() - variables_read_by_the_project()

    assert not stale, f"in the README's configuration table but read by nothing: {stale}"


def test_env_example_lists_only_variables_the_settings_gunicorn_or_compose_read():
    stale = env_example_names() - variables_read_by_the_project() - compose_variables()

    assert not stale, f"in .env.example but read by nothing: {sorted(stale)}"


# --- docker-compose.yml ------------------------------------------------------------------


def compose_services() -> dict[str, dict[str, object]]:
    services: dict[str, dict[str, object]] = yaml.safe_load(COMPOSE.read_text())["services"]
    return services


def compose_environment(service: dict[str, object]) -> dict[str, str]:
    """A service's `environment`, in either of compose's forms (mapping or `KEY=value` list)."""
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        return dict(str(item).partition("=")[::2] for item in environment)
    assert isinstance(environment, dict)
    return {str(key): str(value) for key, value in environment.items()}


def test_every_compose_service_restarts_unless_stopped():
    services = compose_services()

    assert {"postgres", "redis", "app", "nginx"} <= set(services)
    assert {name: s.get("restart") for name, s in services.items()} == dict.fromkeys(
        services, "unless-stopped"
    )


# Each secret a compose service may be given, and the variable it must come from.
COMPOSE_SECRETS = {
    "SECRET_KEY": "SECRET_KEY",
    "POSTGRES_PASSWORD": "POSTGRES_PASSWORD",
    "DATABASE_URL": "POSTGRES_PASSWORD",
}


def test_compose_secrets_come_from_the_environment_and_are_required():
    given = {
        (name, variable): value
        for name, service in compose_services().items()
        for variable, value in compose_environment(service).items()
        if variable in COMPOSE_SECRETS
    }

    assert {
        ("postgres", "POSTGRES_PASSWORD"),
        ("app", "SECRET_KEY"),
        ("app", "DATABASE_URL"),
    } <= set(given)
    # `${NAME:?message}`: compose refuses to start when the variable is unset or empty.
    literal = {
        key: value for key, value in given.items() if f"${{{COMPOSE_SECRETS[key[1]]}:?" not in value
    }
    assert not literal, f"secrets written into docker-compose.yml: {literal}"


def test_the_variables_compose_reads_are_documented():
    names = compose_variables()
    docker = readme_section("Deployment")
    docker = docker[docker.index("**Docker.**") :]

    assert {"POSTGRES_PASSWORD", "SECRET_KEY"} <= names
    assert not names - env_example_names(), "add to .env.example's docker-compose.yml part"
    undocumented = {name for name in names if f"`{name}`" not in docker}
    assert not undocumented, f"add to the README's Docker part: {sorted(undocumented)}"


# --- Makefile targets ---------------------------------------------------------------------


def phony_targets() -> set[str]:
    line = next(ln for ln in MAKEFILE.read_text().splitlines() if ln.startswith(".PHONY:"))
    return set(line.removeprefix(".PHONY:").split())


def rule_targets() -> set[str]:
    """Targets with a rule of their own (`name: prerequisites`), not file targets."""
    rules = re.findall(r"^([a-z][a-z0-9-]*):(?![:?]?=)", MAKEFILE.read_text(), re.MULTILINE)
    return set(rules)


def test_every_makefile_target_is_phony_and_every_phony_target_has_a_rule():
    assert rule_targets() == phony_targets()


def test_every_makefile_target_is_in_the_readme():
    quick_start = readme_section("Quick start")
    in_table = {
        target
        for cell in first_cells(quick_start)
        for target in re.findall(r"`make ([a-z][a-z0-9-]*)", cell)
    }
    # `make run` and `make test` open the Quick start, in its first code block.
    in_code = set(re.findall(r"^make ([a-z][a-z0-9-]*)", quick_start, re.MULTILINE))

    missing = phony_targets() - in_table - in_code

    assert not missing, f"add to the README's targets table: {sorted(missing)}"
    assert {"run", "test"} <= in_code
