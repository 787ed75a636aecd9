"""How both servers start: the app is imported and built with the garbage collector paused and
pydantic's model builds deferred."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

from pydantic._internal import _config as pydantic_config


@contextmanager
def starting() -> Iterator[None]:
    """The servers' imports and app build, made cheaper in two ways.

    - Start-up builds a few hundred thousand objects that live as long as the process (pydantic
      schemas, SQLAlchemy and MCP types) and makes next to no garbage, yet every collection
      meanwhile walks all of them: about a sixth of the start-up's CPU time. What was built is
      then frozen (`gc.freeze`): later collections skip it too.
    - pydantic builds each model's validator and serializer when its class is defined, and the
      libraries define hundreds of models a server never uses: the MCP SDK's types of three
      protocol versions, FastAPI's OpenAPI document. Models defined meanwhile are built on first
      use instead (pydantic's `defer_build`, here as the default of every model that does not
      set it): a third of the MCP server's start-up. pydantic has no public switch for that
      default; `tests/test_startup.py` proves this one still takes effect.
    """
    enabled = gc.isenabled()
    gc.disable()
    defer_before = pydantic_config.config_defaults["defer_build"]
    pydantic_config.config_defaults["defer_build"] = True
    try:
        yield
    finally:
        pydantic_config.config_defaults["defer_build"] = defer_before
        gc.freeze()
        if enabled:
            gc.enable()
