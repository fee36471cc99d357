"""The page layer's one way into the service: the API's own route functions, with their own role
checks. A page never repeats a rule, a query or a permission of the API; it calls the function
the API route calls, after running the role check that route declares.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar, get_args, get_origin, get_type_hints

from fastapi import params
from pydantic.fields import FieldInfo

from service.deps import Caller
from service.pagination import first_page

T = TypeVar("T")


def _role_checks(func: Callable[..., Any]) -> list[Callable[[Caller], Caller]]:
    """The dependencies of the route's ``caller`` parameter (``Coordinator``, ``AnyRole``...)."""
    hint = get_type_hints(func, include_extras=True).get("caller")
    if hint is None or get_origin(hint) is None:
        raise TypeError(f"{func.__name__} declares no caller role")
    return [m.dependency for m in get_args(hint)[1:] if isinstance(m, params.Depends)]


def call(func: Callable[..., T], caller: Caller, /, **arguments: Any) -> T:
    """Run an API route function for ``caller``: first the route's own role check (which raises
    the same 403 problem as the API), then the function. Parameters not given take the route's
    declared defaults (``Query(default=None)`` means None)."""
    for check in _role_checks(func):
        caller = check(caller)
    for name, parameter in inspect.signature(func).parameters.items():
        if name in arguments or name == "caller":
            continue
        if name == "page":  # a list route's page: the pages show its first rows
            arguments[name] = first_page()
            continue
        default = parameter.default
        if isinstance(default, FieldInfo):
            arguments[name] = default.get_default(call_default_factory=True)
        elif default is not inspect.Parameter.empty:
            arguments[name] = default
    return func(caller=caller, **arguments)


def require(func: Callable[..., Any], caller: Caller) -> None:
    """The route's role check alone (a form page checks who may send the form)."""
    for check in _role_checks(func):
        check(caller)


def allowed(func: Callable[..., Any], caller: Caller | None) -> bool:
    """Whether ``caller`` passes the route's role check (to show or hide a link or a button)."""
    if caller is None:
        return False
    try:
        for check in _role_checks(func):
            check(caller)
    except Exception:  # the check's own 403 problem
        return False
    return True
