"""`crmctl mcp`: the Model Context Protocol server for AI agents, a second shell over the same commands.

Each tool is one crmctl command run in process with `--format json` (`runner`): its output schema is the command's
envelope schema (`crmctl.cli.contract.command_schema`), its structured content the envelope itself, so an agent
reads exactly what `crmctl COMMAND --format json` prints in a terminal. Tools are declared in `tools`, resources
(artifacts, JSON Schemas, catalogues, the package format) in `resources`, the server in `server`. See docs/agents.md.
"""
