"""The limits the tables, the REST API and the MCP tools share, importable without SQLAlchemy.

(The MCP server declares its tools' parameters with them at start-up, and imports the database
layer only when a tool first runs.)
"""

from __future__ import annotations

from typing import Literal

# Column widths, and with them the longest user id and title anything accepts. (The migrations
# spell out their own: a revision records the schema as it was, whatever these become.)
USER_ID_MAX = 255
TITLE_MAX = 200
ID_MAX = 2_147_483_647  # ids are 32-bit integers in PostgreSQL
DESCRIPTION_MAX = 2000

StatusFilter = Literal["all", "pending", "completed"]
