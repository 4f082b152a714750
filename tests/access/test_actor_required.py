"""Every service function that acts for someone takes the actor as a required keyword: a caller that forgot
`actor=` fails at once instead of running with a default's (admin) rights."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable, Iterator

import pytest

import app
from app.tags import service as tags
from app.tasks import service as tasks
from app.users import service as users

# Every layer that may call or define a service function (the GraphQL faces only call them).
LAYERS = ("app.tasks", "app.tags", "app.users", "app.audit", "app.seeding", "app.data_migrations", "app.cli")


def modules() -> Iterator[object]:
    for info in pkgutil.walk_packages(app.__path__, "app."):
        if info.name.startswith(LAYERS):
            yield importlib.import_module(info.name)


def functions_with_an_actor() -> dict[str, Callable]:
    """Public functions (and methods) defined in those modules that take a parameter named `actor`."""
    found: dict[str, Callable] = {}
    for module in modules():
        for name, value in vars(module).items():
            candidates = [(name, value)]
            if inspect.isclass(value) and value.__module__ == module.__name__:
                candidates += [(f"{name}.{attr}", member) for attr, member in vars(value).items()]
            for label, function in candidates:
                if (
                    inspect.isfunction(function)
                    and function.__module__ == module.__name__
                    and not label.rsplit(".", 1)[-1].startswith("_")
                    and "actor" in inspect.signature(function).parameters
                ):
                    found[f"{module.__name__}.{label}"] = function
    return found


def test_the_scan_finds_the_service_writes() -> None:
    # Guards the scan itself: if it found nothing, the next test would pass for no reason.
    found = functions_with_an_actor()
    for expected in ("app.tasks.service.create_task", "app.tasks.service.bulk_upsert_tasks",
                     "app.tags.service.delete_tag", "app.users.service.update_user", "app.audit.writer.record"):
        assert expected in found


@pytest.mark.parametrize("name", sorted(functions_with_an_actor()))
def test_actor_is_a_required_keyword(name: str) -> None:
    parameter = inspect.signature(functions_with_an_actor()[name]).parameters["actor"]
    assert parameter.kind is inspect.Parameter.KEYWORD_ONLY, f"{name}: actor must be keyword-only"
    assert parameter.default is inspect.Parameter.empty, f"{name}: actor must have no default"


@pytest.mark.parametrize(
    ("function", "arguments"),
    [
        (tasks.create_task, {"title": "no actor"}),
        (tasks.soft_delete_task, {"task_id": "00000000-0000-0000-0000-000000000000"}),
        (tags.create_tag, {"name": "no-actor", "color": "#000000"}),
        (users.delete_user, {"user_id": "000000000000000000000000"}),
    ],
)
def test_calling_without_an_actor_is_a_type_error(function: Callable, arguments: dict) -> None:
    with pytest.raises(TypeError, match="actor"):
        function(**arguments)
