"""Translations of opchat's UI text, one module per language.

Each module holds `MESSAGES` (English text -> translation) and `PLURALS`
(English singular -> the language's plural forms, in the order its plural
rule in `opchat.i18n` numbers them). English needs no module: the message
ids are the English text.
"""
