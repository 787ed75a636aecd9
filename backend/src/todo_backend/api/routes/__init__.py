"""The API's routers, one module per tag; `todo_backend.api.create_app` includes them."""
