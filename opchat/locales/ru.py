"""Russian translations; keys are the English text passed to `_()` / `ngettext()`."""

MESSAGES: dict[str, str] = {
    # Screens and panels
    "Conversations": "Диалоги",
    "No conversations yet": "Диалогов пока нет",
    "Select a conversation": "Выберите диалог",
    "Quick replies": "Быстрые ответы",
    "Help": "Справка",
    "Quit": "Выход",
    # Composer
    "Type a message…": "Введите сообщение…",
    "Send": "Отправить",
    "Newline": "Новая строка",
    "Retry": "Повторить",
    "You": "Вы",
    "{name} is typing…": "{name} печатает…",
    # Message delivery states (about a message: neuter)
    "queued": "в очереди",
    "sent": "отправлено",
    "delivered": "доставлено",
    "read": "прочитано",
    "failed": "не отправлено",
    # Conversation states (about a dialog: masculine)
    "open": "открыт",
    "pending": "ожидает",
    "snoozed": "отложен",
    "resolved": "решён",
    "waiting": "ждёт ответа",
}

# (one, few, many): 1, 21 ... / 2-4, 22-24 ... / 0, 5-20, 25-30 ...
PLURALS: dict[str, tuple[str, str, str]] = {
    "{n} waiting": ("{n} ждёт", "{n} ждут", "{n} ждут"),
    "{n} unread": ("{n} непрочитанное", "{n} непрочитанных", "{n} непрочитанных"),
}
