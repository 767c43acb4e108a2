"""The sandbox server (`crmctl serve`): the browser renderer, the records API a package describes, webhooks.

Presentation plane (blueprint §2.3, §3.3, §15): it renders effects, sends events and serves documents; every
decision is the runtime's (form sessions, records, workflows) or the API plane's (the documents). The server is
an ASGI app (Starlette, run by uvicorn from the CLI); the clock, ids and the token are injected by the CLI.

Layout of the app (`app.build_app`):
- `/` and `/static/…`: the renderer, ES modules and CSS shipped as package data (`static/`), no build step;
- `/_sandbox/…`: the renderer's own JSON endpoints (form sessions, drafts, workflows, live reload), not an API
  promise;
- `/api/{package}/…`: the records API of each served package, as `crmctl api openapi` describes it.
"""
