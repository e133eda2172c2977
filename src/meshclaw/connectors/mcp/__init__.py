"""Any MCP server as an agent toolset, behind the same guard as the built-in tools.

The configuration is ``meshclaw.domain.mcp_config``. Here: ``specs`` turns the config and the
server's tool annotations into ToolSpecs; ``client`` starts or reaches the server; ``toolset``
offers only the granted tools to an agent; ``protected`` puts a server behind a ``Protector`` for
use outside agent runs. Importing this package loads none of the MCP client code.
"""
