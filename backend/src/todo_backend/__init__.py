"""Todo Chatbot backend: REST API, stateless chat agent and the MCP server, on one data layer."""
