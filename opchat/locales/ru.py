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


# The inbox screen: opchat/app.py, opchat/screens/, opchat/widgets/.
MESSAGES.update({
    "Commands": "Команды",
    "Something went wrong: {error}": "Что-то пошло не так: {error}",
    "Quit opchat": "Выйти из opchat",
    "Show every key": "Показать все клавиши",
    "Show every key (not while typing)": "Показать все клавиши (не во время набора)",
    "Textual's command palette: theme, keys, screenshot":
        "Палитра команд Textual: тема, клавиши, снимок экрана",
    "Anywhere": "Везде",
    "Conversation list": "Список диалогов",
    "Messages (after Alt+2, or Up from the reply box)":
        "Сообщения (после Alt+2 или стрелки вверх из поля ответа)",
    "Reply box": "Поле ответа",
    "Editing the reply": "Редактирование ответа",
    "Cannot open the inbox: {error}": "Не удалось открыть хранилище: {error}",
    "arrows, Home, End": "стрелки, Home, End",
    "move the cursor": "двигают курсор",
    "undo, redo": "отменить, вернуть",
    "delete a word, to the line start, to the line end":
        "удалить слово, до начала строки, до конца строки",
    "on the first line: go to the messages": "на первой строке: перейти к сообщениям",
    "next, previous pane": "следующая, предыдущая панель",
    "Next": "Дальше",
    "Prev": "Назад",
    "Replies": "Ответы",
    "List": "Список",
    "Thread": "Переписка",
    "Composer": "Поле ответа",
    "To the list": "К списку",
    "Open the next conversation in the list": "Открыть следующий диалог в списке",
    "Open the previous conversation in the list": "Открыть предыдущий диалог в списке",
    "Insert a saved reply (fuzzy search)": "Вставить быстрый ответ (нечёткий поиск)",
    "Go to the conversation list": "Перейти к списку диалогов",
    "Go to the messages (select one to act on it)":
        "Перейти к сообщениям (выбрать сообщение для действий)",
    "Go to the reply box": "Перейти к полю ответа",
    "The message is queued again.": "Сообщение снова поставлено в очередь.",
    "Open a conversation first.": "Сначала откройте диалог.",
    "No quick replies yet: add some with `opchat replies add`.":
        "Быстрых ответов пока нет: добавьте их командой `opchat replies add`.",
    "Close": "Закрыть",
    "Keys": "Клавиши",
    "Esc closes this help.": "Esc закрывает справку.",
    "Send the message": "Отправить сообщение",
    "Start a new line (also Alt+Enter)": "Новая строка (также Alt+Enter)",
    "Previous message": "Предыдущее сообщение",
    "Next message": "Следующее сообщение",
    "First message": "Первое сообщение",
    "Last message": "Последнее сообщение",
    "Open": "Открыть",
    "To clipboard": "В буфер",
    "Copied the message.": "Сообщение скопировано.",
    "auto": "авто",
    "… {count} more characters — o opens the whole message":
        "… ещё символов: {count} — o открывает сообщение целиком",
    "Send a failed message again": "Отправить неотправленное сообщение ещё раз",
    "Open the whole message in $PAGER": "Открыть сообщение целиком в $PAGER",
    "Copy the message text to the clipboard": "Скопировать текст сообщения в буфер обмена",
    "Only a message that failed can be sent again.":
        "Повторить можно только неотправленное сообщение.",
    "No pager found: set $PAGER or install less.":
        "Пейджер не найден: задайте $PAGER или установите less.",
    "Loading…": "Загрузка…",
    "No messages yet": "Сообщений пока нет",
    "This terminal cannot hand over to a pager.":
        "Этот терминал не может передать управление пейджеру.",
    "The pager failed: {error}": "Ошибка пейджера: {error}",
    "note": "заметка",
    "unknown error": "неизвестная ошибка",
    "r retries": "r — повторить",
    "retrying: ": "повтор: ",
    "Search quick replies…": "Поиск быстрых ответов…",
    "Down": "Вниз",
    "Up": "Вверх",
    "Page down": "Страница вниз",
    "Page up": "Страница вверх",
    "First": "В начало",
    "Last": "В конец",
    "Open the conversation and answer it": "Открыть диалог и ответить",
    "You: ": "Вы: ",
    "Note: ": "Заметка: ",
    "Auto: ": "Авто: ",
    "DEMO": "ДЕМО",
    "Opening the inbox…": "Открываю хранилище…",
    "hub": "хаб",
    "follower": "ведомый",
    "down": "не работает",
    "degraded": "с перебоями",
    "no channels: see opchat doctor": "нет каналов: см. opchat doctor",
})
