"""The web chat: a widget for the business's own pages, served by the hub.

In parts: `channel` (the transport: the widget's files, its WebSocket, the visitors'
sessions) and `options` (what a `[channels.NAME]` table may hold: light, as the config
reads it in every process). Nothing is imported here.
"""
