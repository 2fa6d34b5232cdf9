"""The Telegram channel, in parts: `channel` (the transport, through aiogram),
`options` (what a `[channels.NAME]` table may hold: no SDK, so the config reads it in
every process without importing aiogram), `api`, `updates` and `text`.

Nothing is imported here: the config imports `options`, and only the process that runs
a Telegram channel imports `channel` (and aiogram with it).
"""
