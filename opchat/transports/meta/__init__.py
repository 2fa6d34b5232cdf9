"""Meta's channels: WhatsApp Business Cloud API (and, built on the same parts,
Facebook Messenger and Instagram).

What the three share lives here once: ``graph`` speaks the Graph API (its
error shape turned into words for the operator, rate limits into waits, an
expired token into a channel DOWN), ``webhook`` receives Meta's webhooks on
the hub's one web server (the subscription check, the signature of every
POST checked before the body is read as JSON, 200 only after the commit).
Each platform adds only its payloads: ``whatsapp``.
"""
