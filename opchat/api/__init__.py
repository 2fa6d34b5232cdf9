"""The HTTP API (docs/API.md): served by the hub on its own ``[api] listen`` address.

`tokens` makes and checks the tokens (only a SHA-256 of each is stored, in
`Store.api_tokens`); `server` is the aiohttp application, its routes described by
``openapi.json`` beside it (also served at ``/api/v1/openapi.json``). Every write is
done as the operator ``api:NAME`` (the token's name), so the events log and the
audit say which token did it. Nothing here is imported unless ``[api]`` is set.
"""
