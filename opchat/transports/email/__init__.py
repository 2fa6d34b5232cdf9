"""The e-mail channel: a mailbox read over IMAP (IDLE) and answered over SMTP.

In parts: `channel` (the transport), `imap`, `smtp`, `parse` (mail to messages) and
`options` (what a `[channels.NAME]` table may hold: light, as the config reads it in
every process, where aioimaplib and aiosmtplib have no business). Nothing is imported
here.
"""
