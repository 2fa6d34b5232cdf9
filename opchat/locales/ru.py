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
    "r retries, Alt+X dismisses": "r — повторить, Alt+X — снять",
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

# The contact panel, merging, hiding with a trace
MESSAGES.update({
    "Yes": "Да",
    "No": "Нет",
    "Enter: {yes}   Esc: cancel": "Enter: {yes}   Esc: отмена",
    "Contact": "Контакт",
    "Hide": "Скрыть",
    "Show or hide who the customer is: every channel, notes, history":
        "Показать или скрыть, кто клиент: все каналы, заметки, история",
    "Hide the conversation (asks first; opchat audit keeps the trace)":
        "Скрыть диалог (с подтверждением; след остаётся в opchat audit)",
    "Hide the message (asks first; opchat audit keeps the trace)":
        "Скрыть сообщение (с подтверждением; след остаётся в opchat audit)",
    "It leaves the thread but stays stored; opchat audit shows who hid it and "
    "`opchat unhide message {id}` brings it back.":
        "Оно исчезнет из переписки, но останется в базе; opchat audit покажет, кто его "
        "скрыл, а `opchat unhide message {id}` вернёт его.",
    "Hide this message?": "Скрыть это сообщение?",
    "hide": "скрыть",
    "Message hidden.": "Сообщение скрыто.",
    "It leaves the list but stays stored; it comes back if the customer writes again. "
    "opchat audit shows who hid it and `opchat unhide conversation {id}` brings it back.":
        "Он исчезнет из списка, но останется в базе и вернётся, если клиент напишет снова. "
        "opchat audit покажет, кто его скрыл, а `opchat unhide conversation {id}` вернёт его.",
    "Hide this conversation?": "Скрыть этот диалог?",
    "Conversation hidden.": "Диалог скрыт.",
    "Merge these contacts?": "Объединить эти контакты?",
    "merge": "объединить",
    "Keep": "Оставить",
    "Merge into it": "Присоединить к нему",
    "Moves to the kept contact:": "Переходит к оставляемому контакту:",
    "nothing": "ничего",
    "identity": "аккаунт",
    "conversation": "диалог",
    "The kept contact will be:": "Оставляемый контакт станет таким:",
    "name": "имя",
    "phone": "телефон",
    "e-mail": "e-mail",
    "from the merged contact": "из присоединяемого контакта",
    "notes: the merged contact's notes are added":
        "заметки: добавятся заметки присоединяемого контакта",
    "The merged contact is kept, marked as merged; this is recorded with your name.":
        "Присоединённый контакт не удаляется, а помечается как объединённый; это "
        "записывается с вашим именем.",
    "Save": "Сохранить",
    "Cancel": "Отмена",
    "Ctrl+S: save   Esc: cancel": "Ctrl+S: сохранить   Esc: отмена",
    "Notes about": "Заметки:",
    "Notes": "Заметки",
    "Merge": "Объединить",
    "Notes saved.": "Заметки сохранены.",
    "page": "страница",
    "page title": "заголовок страницы",
    "referrer": "откуда пришёл",
    "language": "язык",
    "user agent": "браузер",
    "username": "имя пользователя",
    "Edit the notes about this person": "Изменить заметки об этом человеке",
    "Merge the selected suggestion into this contact (asks first)":
        "Присоединить выбранный контакт к этому (с подтверждением)",
    "Close the contact panel": "Закрыть панель контакта",
    "Choose a suggested contact first (under “Same person?”).":
        "Сначала выберите предложенный контакт (под «Тот же человек?»).",
    "Merged: {name} now has every conversation of both.":
        "Объединено: у {name} теперь все диалоги обоих.",
    "Channels": "Каналы",
    "n edits": "n — изменить",
    "Enter opens": "Enter — открыть",
    "same phone": "тот же телефон",
    "same e-mail": "тот же e-mail",
    "Open a conversation to see who wrote it.": "Откройте диалог, чтобы увидеть, кто написал.",
    "labels": "метки",
    "no notes yet": "заметок пока нет",
    "none": "нет",
    "Same person?": "Тот же человек?",
    "m merges": "m — объединить",
})
PLURALS.update({
    "… {n} more line": ("… ещё {n} строка", "… ещё {n} строки", "… ещё {n} строк"),
    "{n} conversation": ("{n} диалог", "{n} диалога", "{n} диалогов"),
})

# Search (Ctrl+F): opchat/screens/search.py and its key on the inbox screen.
MESSAGES.update({
    "Search": "Поиск",
    "Search every message, contact and label": "Искать во всех сообщениях, контактах и метках",
    "That conversation is no longer there.": "Этого диалога больше нет.",
    "Search messages, contacts and labels": "Поиск по сообщениям, контактам и меткам",
    "Words, a name, a phone number or an e-mail…": "Слова, имя, телефон или e-mail…",
    "Type to search every message, contact name, phone, e-mail and label.":
        "Начните вводить: поиск по всем сообщениям, именам, телефонам, e-mail и меткам.",
    "Searching…": "Ищу…",
    "Nothing found.": "Ничего не найдено.",
    "the newest {n} messages": "последние {n} сообщений",
    "contact": "контакт",
    "label": "метка",
    "Close the search": "Закрыть поиск",
    "Open the conversation at the highlighted result": "Открыть диалог на выбранном результате",
    "Move": "Выбор",
    "Next result": "Следующий результат",
    "Previous result": "Предыдущий результат",
})
PLURALS.update({
    "{n} result": ("{n} результат", "{n} результата", "{n} результатов"),
})


# Quick replies and automatic answers: opchat/screens/replies.py, widgets/composer.py,
# widgets/quick_replies.py.
MESSAGES.update({
    "Edit replies": "Ответы: правка",
    "Add, change, delete and preview quick replies":
        "Добавить, изменить, удалить и посмотреть быстрые ответы",
    "Add": "Добавить",
    "Edit": "Изменить",
    "Delete": "Удалить",
    "Back": "Назад",
    "private": "личный",
    "private (only you)": "личный (только вам)",
    "shared with every operator": "общий для всех операторов",
    "Saved /{shortcut}.": "Сохранён /{shortcut}.",
    "Deleted /{shortcut}.": "Удалён /{shortcut}.",
    "No quick replies yet: F3 adds one, or `opchat replies starter`.":
        "Быстрых ответов пока нет: F3 — добавить, или `opchat replies starter`.",
    "No quick reply /{shortcut}.": "Нет быстрого ответа /{shortcut}.",
    "This reply comes with a file, which cannot be sent: {problem}":
        "К этому ответу прилагается файл, но отправить его нельзя: {problem}",
    "Write a new quick reply": "Написать новый быстрый ответ",
    "Change the reply under the cursor": "Изменить ответ под курсором",
    "Delete the reply under the cursor (asks first)":
        "Удалить ответ под курсором (с подтверждением)",
    "Back to the inbox": "Назад к диалогам",
    "Save the reply": "Сохранить ответ",
    "Close without saving": "Закрыть без сохранения",
    "this reply": "этот ответ",
    "No quick replies yet: press a to add one.": "Быстрых ответов пока нет: a — добавить.",
    "The shortcut /{shortcut} is taken by another reply.":
        "Сокращение /{shortcut} уже занято другим ответом.",
    "Delete the quick reply /{shortcut}?": "Удалить быстрый ответ /{shortcut}?",
    "delete": "удалить",
    "Shortcut (typed after /)": "Сокращение (набирается после /)",
    "Title": "Название",
    "Folder": "Папка",
    "Text; variables such as {contact.first_name}, {operator.name}, {date} are filled in "
    "when it is inserted":
        "Текст; переменные вроде {contact.first_name}, {operator.name}, {date} "
        "подставляются при вставке",
    "File sent with it (a path; optional)": "Файл к ответу (путь; необязательно)",
    "Private: only I see it": "Личный: вижу только я",
    "Ctrl+S — save   Esc — cancel": "Ctrl+S — сохранить   Esc — отмена",
    "The shortcut: 1–40 letters, digits, '.', '_' or '-'.":
        "Сокращение: 1–40 букв, цифр, «.», «_» или «-».",
    "The title cannot be empty.": "Название не может быть пустым.",
    "The text cannot be empty.": "Текст не может быть пустым.",
    "The folder: one line, at most 40 characters.": "Папка: одна строка, не длиннее 40 знаков.",
    "The file: one line, a path.": "Файл: одна строка, путь.",
    "Complete": "Дополнить",
    "Previous variable": "Предыдущая переменная",
    "Take the /reply shown; else go to the next unfilled variable; else to the next pane":
        "Взять показанный /ответ; иначе — к следующей незаполненной переменной; "
        "иначе — к следующей панели",
    "Go to the previous unfilled variable; else to the previous pane":
        "К предыдущей незаполненной переменной; иначе — к предыдущей панели",
    "Send as it is": "Отправить как есть",
    "Fill it in": "Заполнить",
    "The message still has {names}: the customer would see it as it is.":
        "В сообщении остались {names}: клиент увидит их как есть.",
    "y — send as it is   n, Esc — fill it in": "y — отправить как есть   n, Esc — заполнить",
    "Search quick replies… (1–9: the most used)":
        "Поиск быстрых ответов… (1–9: самые частые)",
    "Quick replies on keys (config [reply_keys])": "Быстрые ответы на клавишах ([reply_keys])",
    "1–9 in the palette (nothing typed)": "1–9 в палитре (пока ничего не набрано)",
    "insert one of the nine most used replies": "вставить один из девяти самых частых ответов",
    "/ and a shortcut": "/ и сокращение",
    "quick replies as you type; Tab or Enter inserts": "быстрые ответы по мере набора; "
                                                       "Tab или Enter — вставить",
})

# The operator's workflow: views, statuses, assignment, notes, labels, presence, alerts
MESSAGES.update({
    "Mine": "Мои",
    "Unassigned": "Свободные",
    "Free": "Своб",
    "Wait": "Ждут",
    "All": "Все",
    "Waiting": "Ждут",
    "Views": "Виды",
    "Next view: Mine, Unassigned, All, Waiting": "Следующий вид: Мои, Свободные, Все, Ждут",
    "Longest waiting": "Дольше всех ждёт",
    "Open the conversation that has waited longest": "Открыть диалог, который ждёт дольше всех",
    "Next unread": "Следующий непрочитанный",
    "Open the next conversation with unread messages":
        "Открыть следующий диалог с непрочитанными сообщениями",
    "Resolve": "Закрыть",
    "Resolve the conversation and open the next": "Закрыть диалог как решённый и открыть следующий",
    "Reopen": "Открыть снова",
    "Set the conversation open again": "Снова сделать диалог открытым",
    "Pending": "В ожидании",
    "Set the conversation pending (waiting on something else)":
        "Поставить диалог в ожидание (ждём чего-то ещё)",
    "Snooze": "Отложить",
    "Snooze until a time: 1 hour, tomorrow, next week, or typed":
        "Отложить до времени: на час, до завтра, до следующей недели или своё",
    "Take": "Взять",
    "Assign the conversation to me": "Назначить диалог на меня",
    "Assign": "Назначить",
    "Assign the conversation to someone, or to nobody":
        "Назначить диалог на кого-то или снять назначение",
    "Note": "Заметка",
    "Write a private note instead of a reply (only operators see it)":
        "Написать внутреннюю заметку вместо ответа (её видят только операторы)",
    "Labels": "Метки",
    "Add or remove a label on the conversation": "Поставить или снять метку диалога",
    "Filter": "Фильтр",
    "Show only conversations with a label": "Показывать только диалоги с меткой",
    "Nobody is waiting.": "Никто не ждёт.",
    "No unread messages.": "Непрочитанных нет.",
    "Resolved.": "Решено.",
    "Private note: only operators see it": "Внутренняя заметка: её видят только операторы",
    "1 hour": "На 1 час",
    "Tomorrow 9:00": "Завтра в 9:00",
    "Next week (Monday 9:00)": "Следующая неделя (понедельник, 9:00)",
    "Snooze until": "Отложить до",
    "or type: 2h, 18:30, 2026-12-01 10:00": "или введите: 2ч, 18:30, завтра 10:00",
    "Assigned to {who}.": "Назначен на {who}.",
    "Unassigned.": "Назначение снято.",
    "{count} open": "открытых: {count}",
    "online": "в сети",
    "Nobody (unassign)": "Никто (снять назначение)",
    "Assign to": "Назначить на",
    "on: Enter removes it": "стоит: Enter снимет",
    "Label": "Метка",
    "type to find, or a new label": "начните вводить или введите новую метку",
    "Every conversation (no label filter)": "Все диалоги (без фильтра по метке)",
    "Show conversations labelled": "Показать диалоги с меткой",
    "Also here: ": "Здесь же: ",
    "is typing…": "печатает…",
    "are typing…": "печатают…",
    "is typing:": "печатает:",
    "New conversation": "Новый диалог",
    "{name} is waiting": "{name} ждёт ответа",
    "give a time in the future": "укажите время в будущем",
    "no such date: {text}": "такой даты нет: {text}",
    "{text} has already passed": "{text} уже прошло",
    "not a time: {text} (try 2h, 18:30 or 2026-12-01 14:00)":
        "это не время: {text} (например: 2h, 18:30 или 2026-12-01 14:00)",
    "no such time of day: {time}": "такого времени суток нет: {time}",
})

# Files sent with messages
MESSAGES.update({
    "File": "Файл",
    "Open the file sent with the message (fetched first if needed); over SSH, its path":
        "Открыть файл из сообщения (сначала скачав его); по SSH — показать путь",
    "This message has no file.": "В этом сообщении нет файла.",
    "Which file?": "Какой файл?",
    "Fetching the file…": "Скачиваю файл…",
    "Cannot fetch the file: {error}": "Не удалось скачать файл: {error}",
    "Opened {name}.": "Открыт {name}.",
    "Saved at {path} (copied)": "Сохранён: {path} (путь скопирован)",
})

# Sending files
MESSAGES.update({
    "Attach": "Файл",
    "Send a file with the reply (a path on this machine)":
        "Отправить файл вместе с ответом (путь на этой машине)",
    "attached: Enter removes it": "приложен: Enter уберёт",
    "Send a file with the reply": "Отправить файл с ответом",
    "the file's path, e.g. ~/price-list.pdf": "путь к файлу, например ~/прайс.pdf",
    "No such file: {path}": "Нет такого файла: {path}",
    "Cannot read {path}": "Нет доступа к {path}",
    "{path} is larger than 50 MB": "{path} больше 50 МБ",
})

# The web chat's health: a failing store, refused origins
MESSAGES.update({
    "cannot store: {reason}": "не удаётся сохранить: {reason}",
    "refused origin {origin} — add it to origin":
        "отклонён сайт {origin} — добавьте его в origin",
    "refused origins {origins} — add them to origin":
        "отклонены сайты {origins} — добавьте их в origin",
})

# opchat doctor: what the hub said of a channel
MESSAGES.update({
    "the hub says: {health}, {detail}": "хаб сообщает: {health}, {detail}",
    "when the hub last ran: {health}, {detail}":
        "когда хаб работал в последний раз: {health}, {detail}",
})

# The command line (opchat/cli/): the parser's help, errors, what commands print
MESSAGES.update({
    "config file (env OPCHAT_CONFIG)": "файл настроек (переменная OPCHAT_CONFIG)",
    "data directory: database, attachments, logs (env OPCHAT_DATA_DIR)":
        "каталог данных: база, файлы, журналы (переменная OPCHAT_DATA_DIR)",
    "who you are (default: config, then your login name)":
        "кто вы (по умолчанию: из настроек, иначе ваше имя входа)",
    "interface language (default: config, then the locale)":
        "язык интерфейса (по умолчанию: из настроек, иначе из локали)",
    "A terminal inbox for every customer dialog, from every channel.":
        "Терминальный почтовый ящик для всех диалогов с клиентами из всех каналов.",
    "show the version and exit": "показать версию и выйти",
    "run with simulated customers in a separate demo data dir":
        "запустить с учебными клиентами в отдельном демо-каталоге",
    "commands": "команды",
    "actions": "действия",
    "the app with simulated customers": "приложение с учебными клиентами",
    "run the hub alone, headless (for systemd)":
        "запустить только хаб, без интерфейса (для systemd)",
    "add and list channels; web chat snippet":
        "добавить и показать каналы; код веб-чата для сайта",
    "add (or replace) a channel in the config": "добавить (или заменить) канал в настройках",
    "channel kind, e.g. webchat": "вид канала, например webchat",
    "channel kind: {kinds}": "вид канала: {kinds}",
    "Each kind's options are flags of their own: opchat channel add KIND --help lists them.":
        "У каждого вида свои флаги: их перечисляет opchat channel add ВИД --help.",
    "options of {kind} channels": "настройки каналов {kind}",
    "automatic answers (any kind)": "автоответы (любой вид)",
    "(repeat for more)": "(можно несколько раз)",
    "{setting}: give the secret or the variable that holds it, not both":
        "{setting}: укажите секрет или переменную, где он хранится, но не оба",
    "{secret} (or {variable})": "{secret} (или {variable})",
    "{setting} is missing: {what}": "не указано {setting}: {what}",
    "{setting}: {value} is not an http(s) URL nor a path under the channel ({path}/...)":
        "{setting}: {value} — не адрес http(s) и не путь внутри канала ({path}/...)",
    # Options every kind takes (the automatic answers)
    'working hours, e.g. "Mon-Fri 09:00-18:00, Sat 10:00-14:00"':
        'часы работы, например "Пн-Пт 09:00-18:00, Сб 10:00-14:00"',
    "the time zone of the hours, e.g. Europe/Berlin":
        "часовой пояс часов работы, например Europe/Moscow",
    "the automatic answer outside the hours": "автоответ в нерабочее время",
    "the automatic answer to a new dialog": "автоответ на новый диалог",
    "a [menus.NAME] offered to a new dialog": "меню [menus.ИМЯ] для нового диалога",
    "the automatic answers' language: en or ru": "язык автоответов: en или ru",
    "the channel's name (default: the kind)": "имя канала (по умолчанию: его вид)",
    "list configured channels": "показать настроенные каналы",
    "print the <script> tag that puts a web chat on a page":
        "вывести тег <script>, который ставит веб-чат на страницу",
    "the channel's name": "имя канала",
    "connect to a channel's platform and say what answered":
        "связаться с платформой канала и сказать, что она ответила",
    "write everything in the store: contacts, conversations, messages, notes, events, "
    "quick replies":
        "выгрузить всё из базы: контакты, диалоги, сообщения, заметки, события, "
        "быстрые ответы",
    "Write everything in the store as JSON lines: contacts, conversations with labels, "
    "messages with edits and files, notes, events, quick replies. A terminal gets control "
    "characters escaped; a file or a pipe, the exact text.":
        "Выгрузить всё из базы построчно в JSON: контакты, диалоги с метками, сообщения "
        "с правками и файлами, заметки, события, быстрые ответы. В терминал управляющие "
        "символы выводятся экранированными, в файл или канал — точный текст.",
    "one JSON object a line (the only format)":
        "по объекту JSON в строке (единственный формат)",
    "write here instead of stdout": "записать сюда, а не в стандартный вывод",
    "find messages, contacts and labels; exit 1 when nothing matches":
        "найти сообщения, контакты и метки; код выхода 1, если ничего не найдено",
    "words, as prefixes, in any order (any text is searched literally)":
        "слова (начала слов) в любом порядке; любой текст ищется буквально",
    "print at most N results (default 50)": "вывести не больше N результатов (по умолчанию 50)",
    "one JSON object a line": "по объекту JSON в строке",
    "check config, data dir, database, channels, terminal":
        "проверить настройки, каталог данных, базу, каналы, терминал",
    "manage quick replies": "управлять быстрыми ответами",
    "list quick replies": "показать быстрые ответы",
    "add or update one quick reply": "добавить или изменить один быстрый ответ",
    "what the operator types after /, e.g. delivery":
        "что оператор набирает после /, например delivery",
    "the reply's title in the list": "заголовок ответа в списке",
    "the text; '-' reads it from stdin": "текст; '-' — прочитать из стандартного ввода",
    "a folder (tag) to file it under": "папка (тег), в которую его положить",
    "only you (the --operator) see it; shared otherwise":
        "виден только вам (--operator); иначе общий",
    "a file sent with the reply": "файл, который отправляется с ответом",
    "delete one quick reply": "удалить один быстрый ответ",
    "the reply's shortcut": "сокращение ответа",
    "add or update replies from YAML or CSV (all or nothing)":
        "добавить или изменить ответы из YAML или CSV (всё или ничего)",
    "YAML or CSV file; '-' reads stdin":
        "файл YAML или CSV; '-' — прочитать из стандартного ввода",
    "default: from the file's extension (.csv), else YAML":
        "по умолчанию: по расширению файла (.csv), иначе YAML",
    "write every reply (YAML by default)": "выгрузить все ответы (по умолчанию в YAML)",
    "default: YAML (CSV when --output ends in .csv)":
        "по умолчанию: YAML (CSV, если --output оканчивается на .csv)",
    "add the starter set (greeting, delivery, payment, returns, hours, thanks; Russian and "
    "English); existing ones are kept":
        "добавить начальный набор (приветствие, доставка, оплата, возврат, часы работы, "
        "благодарность; по-русски и по-английски); имеющиеся ответы остаются",
    "who did what, when: the history of a conversation, or of all":
        "кто, что и когда сделал: история диалога или всех диалогов",
    "a conversation's number (default: everything)": "номер диалога (по умолчанию: все)",
    "only from this moment: YYYY-MM-DD or 'YYYY-MM-DD HH:MM' (local time)":
        "только с этого момента: ГГГГ-ММ-ДД или 'ГГГГ-ММ-ДД ЧЧ:ММ' (местное время)",
    "one JSON object per line": "по объекту JSON в строке",
    "list the hidden conversations and messages instead":
        "вместо этого показать скрытые диалоги и сообщения",
    "show a hidden conversation or message again (recorded)":
        "снова показать скрытый диалог или сообщение (это записывается)",
    "conversation or message": "conversation (диалог) или message (сообщение)",
    "its number": "его номер",
    "measure speed on a synthetic store": "измерить скорость на искусственной базе",
    "fraction of the full size (100,000 dialogs, 1,000,000 messages)":
        "доля полного размера (100 000 диалогов, 1 000 000 сообщений)",
    "build the store here and keep it": "создать базу здесь и оставить её",
    # Errors and what commands print
    "text that is not valid UTF-8: {reason}": "текст не в кодировке UTF-8: {reason}",
    "cannot use data dir {path}: {error}": "не могу использовать каталог данных {path}: {error}",
    "data dir {path} is not writable by you": "у вас нет права записи в каталог данных {path}",
    "database: {error}": "база данных: {error}",
    "note: {path}-wal holds changes that cannot be read in a read-only dir without its "
    "-shm file; copy the data dir somewhere writable to see them":
        "внимание: в {path}-wal есть изменения, которые в каталоге только для чтения "
        "без файла -shm не прочитать; скопируйте каталог данных туда, где можно писать",
    "cannot write {path}: {error}": "не могу записать {path}: {error}",
    "cannot read {path}: {error}": "не могу прочитать {path}: {error}",
    "unknown channel kind {kind} (installed: {kinds})":
        "неизвестный вид канала {kind} (установлены: {kinds})",
    "replaced channel {name} ({kind}) in {path}; restart opchat to start it":
        "канал {name} ({kind}) заменён в {path}; перезапустите opchat, чтобы он заработал",
    "the hub says: {detail}; this config names it: give the team one config file":
        "хаб сообщает: {detail}; в этих настройках он есть: дайте команде один файл "
        "настроек",
    "not run: the config of the hub (process {pid}) does not name it":
        "не работает: в настройках хаба (процесс {pid}) его нет",
    "not run: no running hub has taken it":
        "не работает: его не взял ни один работающий хаб",
    "the {kind} channel needs the Python module {module}, which is not installed where "
    "opchat runs (pip install it there)":
        "канал {kind} требует модуль Python {module}, а он не установлен там, где "
        "работает opchat (установите его через pip)",
    "added channel {name} ({kind}) in {path}; restart opchat to start it":
        "канал {name} ({kind}) добавлен в {path}; перезапустите opchat, чтобы он заработал",
    "paste this into your pages (opchat channel snippet {name} prints it again):":
        "вставьте это в страницы сайта (opchat channel snippet {name} выведет это снова):",
    "check the token with: opchat channel test {name}":
        "проверьте токен: opchat channel test {name}",
    "Telegram will POST updates to {url}: have your reverse proxy pass them to {local}":
        "Telegram будет присылать обновления на {url}: пусть обратный прокси передаёт их "
        "на {local}",
    "{name} is not an environment variable name": "{name} — не имя переменной окружения",
    "Telegram sends webhooks only to https:// addresses":
        "Telegram присылает вебхуки только на адреса https://",
    "(no channels in the config file: opchat runs this web chat by default)":
        "(в файле настроек нет каналов: opchat по умолчанию запускает этот веб-чат)",
    "no channel named {name} (channels: {names})": "нет канала с именем {name} (каналы: {names})",
    "none configured": "не настроены",
    "channel {name} is {kind}, not webchat": "канал {name} — {kind}, а не webchat",
    "note: set public_url (opchat channel add webchat --public-url https://chat.your.site) "
    "so visitors' browsers can reach the hub":
        "внимание: задайте public_url (opchat channel add webchat --public-url "
        "https://chat.your.site), чтобы браузеры посетителей достучались до хаба",
    "channel {name}: unknown kind {kind}": "канал {name}: неизвестный вид {kind}",
    "channel {name}: {error}": "канал {name}: {error}",
    "channel {name}: no answer in 30 s": "канал {name}: нет ответа за 30 с",
    "channel {name} ({kind}) has nothing to test": "у канала {name} ({kind}) нечего проверять",
    "channel {name} ({kind}): {detail}": "канал {name} ({kind}): {detail}",
    "no database at {path}: nothing to export": "нет базы данных {path}: нечего выгружать",
    "no database at {path}: nothing to search": "нет базы данных {path}: искать негде",
    "{text} is not a whole number above 0": "{text} — не целое число больше 0",
    "search: the query is empty": "search: пустой запрос",
    "private: {login}": "личный: {login}",
    "no quick replies yet: opchat replies add SHORTCUT --title T --body B "
    "(or opchat replies starter)":
        "быстрых ответов пока нет: opchat replies add СОКРАЩЕНИЕ --title T --body B "
        "(или opchat replies starter)",
    "saved /{shortcut} (private to {login})": "сохранён /{shortcut} (личный для {login})",
    "saved /{shortcut}": "сохранён /{shortcut}",
    "no quick reply /{shortcut}": "нет быстрого ответа /{shortcut}",
    "deleted /{shortcut}": "удалён /{shortcut}",
    "added no starter replies (all were there already)":
        "начальные ответы не добавлены (все уже есть)",
})
PLURALS.update({
    "wrote {n} record to {path}": ("записана {n} запись в {path}", "записаны {n} записи в {path}",
                                   "записано {n} записей в {path}"),
    "imported {n} quick reply": ("загружен {n} быстрый ответ", "загружены {n} быстрых ответа",
                                 "загружено {n} быстрых ответов"),
    "added {n} starter reply": ("добавлен {n} начальный ответ", "добавлены {n} начальных ответа",
                                "добавлено {n} начальных ответов"),
})

# argparse's own words (opchat/cli/ points argparse at this catalogue)
MESSAGES.update({
    "usage: ": "использование: ",
    "positional arguments": "позиционные аргументы",
    "options": "параметры",
    "show this help message and exit": "показать эту справку и выйти",
    "%(prog)s: error: %(message)s\n": "%(prog)s: ошибка: %(message)s\n",
    "argument %(argument_name)s: %(message)s": "аргумент %(argument_name)s: %(message)s",
    "the following arguments are required: %s": "нужно указать аргументы: %s",
    "one of the arguments %s is required": "нужен один из аргументов: %s",
    "unrecognized arguments: %s": "непонятные аргументы: %s",
    "invalid choice: %(value)r (choose from %(choices)s)":
        "недопустимое значение: %(value)r (выберите из %(choices)s)",
    "invalid %(type)s value: %(value)r": "недопустимое значение (%(type)s): %(value)r",
    "expected one argument": "нужен один аргумент",
    "expected at most one argument": "нужно не больше одного аргумента",
    "expected at least one argument": "нужен хотя бы один аргумент",
    "expected %s argument": "нужно аргументов: %s",
    "expected %s arguments": "нужно аргументов: %s",
    "ambiguous option: %(option)s could match %(matches)s":
        "неоднозначный параметр: %(option)s может означать %(matches)s",
    "not allowed with argument %s": "нельзя вместе с аргументом %s",
    "ignored explicit argument %r": "лишнее значение %r пропущено",
    "unexpected option string: %s": "неожиданный параметр: %s",
    "can't open '%(filename)s': %(error)s": "не могу открыть '%(filename)s': %(error)s",
    "unknown parser %(parser_name)r (choices: %(choices)s)":
        "неизвестная команда %(parser_name)r (варианты: %(choices)s)",
})

# The thread: replies, edits and forwards (issue 10)
MESSAGES.update({
    "edited {time}": "изменено {time}",
    "edited a message of {time}": "изменено сообщение от {time}",
    "edited an earlier message": "изменено более раннее сообщение",
    "forwarded from {origin}": "переслано от {origin}",
})
PLURALS.update({
    "{n} earlier version": ("{n} прежняя версия", "{n} прежние версии", "{n} прежних версий"),
})

# Keys from a fast typist; Alt keys as a plain terminal sends them (issue 10)
MESSAGES.update({
    "Word left": "На слово влево",
    "a word left": "на слово влево",
    "a letter in the list": "буква в списке",
    "goes to the open dialog's reply box, and so does everything typed after it (j and k too)":
        "уходит в поле ответа открытого диалога, и всё набранное следом тоже (j и k тоже)",
})

# The first start: what to do next, and the name customers see (opchat/cli/)
MESSAGES.update({
    "Welcome to opchat.": "Добро пожаловать в opchat.",
    "Customers can write to you now through the web chat: open {address}/ in a browser "
    "to play a customer.":
        "Клиенты уже могут писать вам через веб-чат: откройте {address}/ в браузере "
        "и попробуйте сами побыть клиентом.",
    "Add another channel: opchat channel add KIND (see opchat channel add --help).":
        "Добавить ещё канал: opchat channel add ВИД (см. opchat channel add --help).",
    "Add a channel: opchat channel add telegram --token 123456:ABC… (see opchat channel add "
    "--help).":
        "Добавить канал: opchat channel add telegram --token 123456:ABC… (подробнее: opchat "
        "channel add --help).",
    "README: {where}": "Описание (README): {where}",
    "the project's description (python -m pip show -v opchat)":
        "описание проекта (python -m pip show -v opchat)",
    "Your name, as customers will see it (\"I'm {operator.name}\" in replies).":
        "Ваше имя, каким его увидят клиенты («Меня зовут {operator.name}» в ответах).",
    "Enter alone: no name; replies then ask for it. Change it later in {path} "
    "(operator_name).":
        "Просто Enter — без имени: ответы будут спрашивать его. Изменить потом: {path} "
        "(operator_name).",
    "Your name: ": "Ваше имя: ",
})

# Snooze moments typed in Russian, and wait times (opchat/when.py)
MESSAGES.update({
    "not a time: {text} (try 2h, 18:30, tomorrow 10:00 or 2026-12-01 14:00)":
        "это не время: {text} (например: 2ч, 18:30, завтра 10:00 или 2026-12-01 14:00)",
    "{n}s": "{n}с",
    "{n}m": "{n}м",
    "{n}h": "{n}ч",
    "{n}d": "{n}д",
})

# opchat audit and opchat unhide (opchat/audit.py)
MESSAGES.update({
    "{text} is not a date: use YYYY-MM-DD or 'YYYY-MM-DD HH:MM'":
        "{text} — не дата: пишите ГГГГ-ММ-ДД или 'ГГГГ-ММ-ДД ЧЧ:ММ'",
    "no conversation #{n}": "нет диалога #{n}",
    "no message #{n}": "нет сообщения #{n}",
    "nothing to audit": "нечего показывать",
    "nothing to unhide": "нечего возвращать",
    "no database at {path}: {nothing}": "нет базы данных {path}: {nothing}",
    "conversation #{n} is shown again (recorded in opchat audit)":
        "диалог #{n} снова виден (записано в opchat audit)",
    "conversation #{n} was not hidden": "диалог #{n} не был скрыт",
    "message #{n} is shown again (recorded in opchat audit)":
        "сообщение #{n} снова видно (записано в opchat audit)",
    "message #{n} was not hidden": "сообщение #{n} не было скрыто",
})

# A failed reply keeps its dialog waiting; the status bar at 80 columns; files a channel
# cannot carry (opchat/widgets/status_bar.py, opchat/screens/workflow.py)
PLURALS.update({
    "{n} failed": ("{n} сбой", "{n} сбоя", "{n} сбоев"),
    "{n} ok": ("{n} в норме", "{n} в норме", "{n} в норме"),
    "{n} starting": ("{n} запускается", "{n} запускаются", "{n} запускаются"),
    "{n} stopped": ("{n} остановлен", "{n} остановлены", "{n} остановлены"),
})
MESSAGES.update({
    "Dismiss failure": "Снять сбой",
    "Stop waiting on the failed reply (the selected message, or the conversation's); "
    "recorded with your name":
        "Больше не ждать из-за неотправленного ответа (выбранного или последнего в "
        "диалоге); записывается, кто снял",
    "No failed reply keeps this conversation waiting.":
        "Неотправленных ответов, из-за которых ждёт этот диалог, нет.",
    "That failure was dismissed or answered already.":
        "Этот сбой уже снят, или клиент уже получил ответ.",
    "Failure dismissed: the conversation no longer waits on it.":
        "Сбой снят: диалог больше не ждёт из-за него.",
    "{channel} cannot carry files: send the text alone.":
        "Канал {channel} не передаёт файлы: отправьте только текст.",
    "reply {message} failed: the conversation waits again":
        "ответ {message} не отправлен: диалог снова ждёт",
    "the failure of {message} no longer keeps the conversation waiting: {why}":
        "сбой {message} больше не держит диалог в ожидании: {why}",
    "dismissed": "снят",
    "a later reply was delivered": "следующий ответ доставлен",
})

# opchat audit: what each event changed (opchat/audit.py)
MESSAGES.update({
    "customer": "клиент",
    "hub": "хаб",
    "message #{n}": "сообщение #{n}",
    "message": "сообщение",
    "customer wrote {message}": "клиент написал {message}",
    "reply {message} queued": "ответ в очереди: {message}",
    "private note {message}": "личная заметка: {message}",
    "automatic reply {message}": "автоответ: {message}",
    "{message} stored": "сохранено: {message}",
    "(sent again by hand)": "(отправлено повторно вручную)",
    "{message} will be retried in {seconds} s: {error}":
        "{message}: новая попытка через {seconds} с: {error}",
    "status {old} → {new}": "статус {old} → {new}",
    "until {moment}": "до {moment}",
    "label added: {label}": "добавлена метка: {label}",
    "label removed: {label}": "снята метка: {label}",
    "label: {label}": "метка: {label}",
    "nobody": "никто",
    "assigned: {old} → {new}": "назначение: {old} → {new}",
    "{message} shown again": "снова видно: {message}",
    "conversation shown again": "диалог снова виден",
    "none": "нет",
    "contact #{merged} ({merged_name}) merged into #{kept} ({kept_name}); moved identities: "
    "{moved}; conversations: {dialogs}":
        "контакт #{merged} ({merged_name}) объединён с #{kept} ({kept_name}); перенесены "
        "профили: {moved}; диалоги: {dialogs}",
    "filled in: {fields}": "дополнено: {fields}",
    "channel {name} {health}": "канал {name}: {health}",
    "{message} hidden": "скрыто: {message}",
    "new conversation": "новый диалог",
    "marked read": "отмечен прочитанным",
    "conversation hidden": "диалог скрыт",
    "notes about contact #{contact} changed ({chars} characters)":
        "изменены заметки о контакте #{contact} ({chars} символов)",
    "{count} quick replies saved": "сохранено быстрых ответов: {count}",
    "conversation #{n}": "диалог #{n}",
    "message #{n} in #{conversation}": "сообщение #{n} в #{conversation}",
})

# opchat search: what kind of result a line is (opchat/cli/)
MESSAGES.update({
    "contact: {details}": "контакт: {details}",
    "label: #{label}": "метка: #{label}",
})

# The first start: a config file that cannot be written (opchat/cli/)
MESSAGES.update({
    "Not saved ({error}); opchat will ask again next time.":
        "Не сохранено ({error}); opchat спросит снова в следующий раз.",
})

# Config errors: the file, the line and the setting (opchat/config.py)
MESSAGES.update({
    "a table": "таблица",
    "true or false": "true или false",
    "a whole number": "целое число",
    "a string in quotes": "строка в кавычках",
    "a list in brackets": "список в квадратных скобках",
    'unknown setting "{setting}"': 'неизвестная настройка "{setting}"',
    'unknown setting "{setting}" for a {kind} channel':
        'неизвестная настройка "{setting}" для канала {kind}',
    '(did you mean "{guess}"?)': '(может быть, "{guess}"?)',
    "(it takes: {keys})": "(допустимы: {keys})",
    'channel name {name} may only use letters, digits, "_" and "-", at most 32 of them':
        'имя канала {name} может состоять только из букв, цифр, "_" и "-", не длиннее 32',
    "not UTF-8 text (byte 0x{byte:02x}); save the file as UTF-8":
        "не текст UTF-8 (байт 0x{byte:02x}); сохраните файл в UTF-8",
    "no such file (check --config or OPCHAT_CONFIG)":
        "нет такого файла (проверьте --config или OPCHAT_CONFIG)",
    "is a directory, not a config file": "это каталог, а не файл настроек",
    "cannot read the file: permission denied": "не удаётся прочитать файл: нет доступа",
    "cannot read the file: {error}": "не удаётся прочитать файл: {error}",
    "{setting} must be {kind}, not {value}": "{setting} должно быть: {kind}, а не {value}",
    "{setting} must be more than 0, not {value}": "{setting} должно быть больше 0, а не {value}",
    "{setting} must be one of {ways}, not {value}":
        "{setting} должно быть одним из: {ways}, а не {value}",
    "{setting} must be at least {least}, not {value}":
        "{setting} должно быть не меньше {least}, а не {value}",
    "{setting} must be a number above 0, not {value}":
        "{setting} должно быть числом больше 0, а не {value}",
    "unknown language {value} (opchat speaks {known})":
        "неизвестный язык {value} (opchat говорит на {known})",
    'channel "{name}" has no kind (for example kind = "telegram")':
        'у канала "{name}" не указан вид (например, kind = "telegram")',
    "channels.{name}.kind: unknown kind '{kind}' (installed: {kinds})":
        "channels.{name}.kind: неизвестный вид канала '{kind}' (установлены: {kinds})",
    "channels.{name}.menu: no [menus.{menu}] table (menus: {known})":
        "channels.{name}.menu: нет таблицы [menus.{menu}] (меню: {known})",
    "ui.wait_red ({red}) is below ui.wait_amber ({amber}): a waiting customer's row would "
    "turn red before amber":
        "ui.wait_red ({red}) меньше ui.wait_amber ({amber}): строка ждущего клиента стала бы "
        "красной раньше жёлтой",
    'keymap: no binding "{binding}"': 'keymap: нет привязки "{binding}"',
    "(the binding ids are in the help screen, F1)": "(имена привязок — в справке, F1)",
    '{setting}: {key} is not a key (like "f10", "ctrl+q", "alt+shift+down", "question_mark")':
        '{setting}: {key} — не клавиша (пример: "f10", "ctrl+q", "alt+shift+down", '
        '"question_mark")',
    "{setting}: {value} is not an environment variable name":
        "{setting}: {value} — не имя переменной окружения",
    "{setting}: {value} is not an IP address or network":
        "{setting}: {value} — не IP-адрес и не сеть",
    "{setting} is not a bot token: @BotFather gives one like 123456789:AAE-x1y2… (digits, a "
    "colon, then letters)":
        "{setting} — не токен бота: @BotFather выдаёт токен вида 123456789:AAE-x1y2… (цифры, "
        "двоеточие, затем буквы)",
    '{setting}: {value} is not host:port (like "127.0.0.1:8765")':
        '{setting}: {value} — не адрес хост:порт (пример: "127.0.0.1:8765")',
    "{setting}: {value} is not like https://host/path":
        "{setting}: {value} — не адрес вида https://host/path",
    "{setting}: {origin} is not a site like https://shop.example":
        "{setting}: {origin} — не сайт вида https://shop.example",
    '{setting} must be a table like {{ "/pricing" = "Questions about prices?" }}':
        '{setting} должно быть таблицей вида {{ "/pricing" = "Вопросы о ценах?" }}',
    "channels.{name}.webhook_url: Telegram sends webhooks only to https:// addresses":
        "channels.{name}.webhook_url: Telegram отправляет вебхуки только на адреса https://",
    'menus.{menu}.options #{n} answers with the quick reply "{reply}", which does not exist '
    "(add it: opchat replies add {reply} --title … --body …)":
        'menus.{menu}.options №{n} отвечает быстрым ответом "{reply}", которого нет '
        "(добавьте его: opchat replies add {reply} --title … --body …)",
})

# The web chat widget's texts in the config (opchat/config.py, [channels.NAME.texts.LANG])
MESSAGES.update({
    'unknown language "{setting}": the widget speaks {languages}':
        'неизвестный язык "{setting}": виджет говорит на {languages}',
    'unknown text "{setting}"': 'неизвестный текст "{setting}"',
})

# A channel that cannot start; config errors on the command line (opchat/hub.py, opchat/cli/)
MESSAGES.update({
    "unknown channel kind '{kind}'": "неизвестный вид канала '{kind}'",
    'it stopped on an internal error (see the log with log.level = "DEBUG")':
        'остановился из-за внутренней ошибки (подробности в журнале при log.level = "DEBUG")',
    "config error: {error}": "ошибка в настройках: {error}",
})

# opchat doctor: what it checks and finds (opchat/doctor.py)
MESSAGES.update({
    "config": "настройки",
    "data dir": "каталог данных",
    "database": "база данных",
    "channels": "каналы",
    "menus": "меню",
    "channel {name}": "канал {name}",
    "found": "найден",
    "not found, using defaults": "не найден, действуют значения по умолчанию",
    "{failed} problem(s), {warned} warning(s)": "проблем: {failed}, предупреждений: {warned}",
    "{path} holds {secrets} and other users can read it (mode {mode:o}); run: chmod 600 "
    "{path} (or move the secret to an environment variable with token_env)":
        "{path} хранит {secrets}, и его могут читать другие пользователи (режим {mode:o}); "
        "выполните: chmod 600 {path} (или перенесите секрет в переменную окружения через "
        "token_env)",
    "{path}, mode {mode:o}": "{path}, режим {mode:o}",
    "{path}, mode {mode:o} (shared with its group)": "{path}, режим {mode:o} (общий для группы)",
    "{path} does not exist yet; it will be created on the first start (mode 700)":
        "{path} ещё не существует; он будет создан при первом запуске (режим 700)",
    "{path} does not exist yet; it will be created on the first start":
        "{path} ещё не существует; она будет создана при первом запуске",
    "{path} is not a directory": "{path} — не каталог",
    "{path} is not writable by you": "у вас нет права записи в {path}",
    "{path} is open to every user (mode {mode:o}); run: chmod o-rwx {path}":
        "{path} открыт всем пользователям (режим {mode:o}); выполните: chmod o-rwx {path}",
    "{path} cannot be created: {parent} is not a directory":
        "{path} невозможно создать: {parent} — не каталог",
    "{path} cannot be created: {parent} is not writable by you":
        "{path} невозможно создать: у вас нет права записи в {parent}",
    "none configured in the config file: opchat runs the web chat on 127.0.0.1:8765 (see "
    "opchat channel add)":
        "в файле настроек их нет: opchat запускает веб-чат на 127.0.0.1:8765 (см. opchat "
        "channel add)",
    "{kind}: configured": "{kind}: настроен",
    "unknown kind '{kind}'; installed: {kinds}": "неизвестный вид '{kind}'; установлены: {kinds}",
    # opchat serve on a damaged database (issue 11)
    "the database {path} is damaged ({problem}); restore it from a backup or try: sqlite3 "
    "{path} .recover":
        "база данных {path} повреждена ({problem}); восстановите её из резервной копии "
        "или попробуйте: sqlite3 {path} .recover",
})

# opchat doctor: the database, the hub lock, the terminal
MESSAGES.update({
    "{path} is damaged: {check}": "{path} повреждена: {check}",
    "schema {version} is newer than this opchat knows ({known}): upgrade opchat":
        "схема {version} новее, чем знает этот opchat ({known}): обновите opchat",
    "{path}: schema {version}, {mode}, {dialogs} dialogs, {messages} messages, "
    "{queued} waiting to be sent":
        "{path}: схема {version}, {mode}, диалогов: {dialogs}, сообщений: {messages}, "
        "ждут отправки: {queued}",
    "cannot open {path}: {error}": "не открыть {path}: {error}",
    "no process runs the hub now (the next opchat will)":
        "хаб сейчас не запущен (его запустит следующий opchat)",
    "the hub runs in process {pid}": "хаб работает в процессе {pid}",
    "terminal": "терминал",
    "unset": "не задан",
    "TERM is {term}: the app needs a real terminal (xterm-256color, tmux-256color)":
        "TERM {term}: приложению нужен настоящий терминал (xterm-256color, tmux-256color)",
    "colours": "цвета",
    "true colour": "24-битный цвет",
    "256 colours (COLORTERM is not set)": "256 цветов (COLORTERM не задан)",
    "; OpenSSH drops COLORTERM: add 'SendEnv COLORTERM' to your ~/.ssh/config and "
    "'AcceptEnv COLORTERM' to the server's sshd_config":
        "; OpenSSH не передаёт COLORTERM: добавьте 'SendEnv COLORTERM' в ваш ~/.ssh/config "
        "и 'AcceptEnv COLORTERM' в sshd_config сервера",
    "16 colours only (TERM={term})": "только 16 цветов (TERM={term})",
})

# Config errors: quick replies on keys, menus, working hours, the TOML parser
MESSAGES.update({
    "reply_keys: {value} is not a quick reply's shortcut (letters, digits, '.', '_', '-')":
        "reply_keys: {value} — не сокращение быстрого ответа (буквы, цифры, '.', '_', '-')",
    'reply_keys.{shortcut} must name keys, like "f5" or "alt+d,f5"':
        'reply_keys.{shortcut} должно называть клавиши, например "f5" или "alt+d,f5"',
    'menu "{name}" needs a text above its options (text = "Choose a topic:")':
        'меню "{name}" нужен текст над пунктами (text = "Выберите тему:")',
    'menus.{name}.options #{n} must be a table '
    '(like {{ label = "Delivery", reply = "delivery" }})':
        'menus.{name}.options №{n} должен быть таблицей '
        '(например {{ label = "Доставка", reply = "delivery" }})',
    'menus.{name}.options #{n}: unknown setting "{key}" (label, reply, operator)':
        'menus.{name}.options №{n}: неизвестная настройка "{key}" (label, reply, operator)',
    "menus.{name}.options #{n} needs a label": "menus.{name}.options №{n}: нужен label",
    'menus.{name}.options #{n} needs either reply = "SHORTCUT" or operator = true':
        'menus.{name}.options №{n}: нужно либо reply = "СОКРАЩЕНИЕ", либо operator = true',
    "menus.{name}.options #{n}: {value} is not a quick reply's shortcut":
        "menus.{name}.options №{n}: {value} — не сокращение быстрого ответа",
    'menu "{name}" needs 1 to 9 options (numbered 1-9)':
        'в меню "{name}" должно быть от 1 до 9 пунктов (номера 1-9)',
    'channels.{name}.hours needs timezone too, e.g. timezone = "Europe/Moscow"':
        'для channels.{name}.hours нужен и timezone, например timezone = "Europe/Moscow"',
    "working hours: {word} is not a day (Mon, Tue… or Пн, Вт…)":
        "часы работы: {word} — не день недели (Пн, Вт… или Mon, Tue…)",
    "working hours: {word} is not a time range (like 09:00-18:00)":
        "часы работы: {word} — не промежуток времени (например 09:00-18:00)",
    "working hours: {word} is not a range of days (like Mon-Fri)":
        "часы работы: {word} — не диапазон дней (например Пн-Пт)",
    'working hours are empty (write e.g. "Mon-Fri 09:00-18:00" or "24/7")':
        'часы работы пусты (напишите, например, "Пн-Пт 09:00-18:00" или "24/7")',
    "working hours: an empty item in {text}": "часы работы: пустой пункт в {text}",
    "working hours: {word} is an empty range": "часы работы: {word} — пустой промежуток",
    "working hours: {text} ends with days but no time range (like 09:00-18:00)":
        "часы работы: {text} кончается днями без времени (например 09:00-18:00)",
    'working hours need a timezone, e.g. "Europe/Berlin"':
        'для часов работы нужен часовой пояс, например "Europe/Moscow"',
    'unknown timezone {name} (a name like "Europe/Berlin"; install the tzdata package '
    "if the system has no zone database)":
        'неизвестный часовой пояс {name} (нужно имя вроде "Europe/Moscow"; установите '
        "пакет tzdata, если в системе нет базы часовых поясов)",
    "cannot declare {what} twice": "{what} объявлено дважды",
    "cannot add to {what}: it was given whole already":
        "нельзя дополнить {what}: оно уже задано целиком",
    "cannot overwrite a value": "значение задано второй раз",
    "cannot redefine the table {what}": "таблица {what} задана второй раз",
    "the key {what} appears twice in an inline table":
        "ключ {what} повторяется во встроенной таблице",
    "an escaped character is not a Unicode character":
        "экранированный символ — не символ Unicode",
    "expected '=' after a key (key = value)": "после ключа нужен '=' (ключ = значение)",
    "expected ']' at the end of a table's name": "в конце имени таблицы нужна ']'",
    "expected ']]' at the end of an array of tables' name":
        "в конце имени массива таблиц нужно ']]'",
    "expected a new line after a statement": "после записи нужна новая строка",
    "invalid character {what}": "недопустимый символ {what}",
    "illegal character {what}": "недопустимый символ {what}",
    "invalid date or time": "неверная дата или время",
    "invalid hexadecimal value": "неверное шестнадцатеричное значение",
    "invalid first character of a key": "недопустимый первый символ ключа",
    "invalid statement": "непонятная запись",
    "invalid value (is it text without quotes?)":
        "неверное значение (может быть, текст без кавычек?)",
    "unclosed array (a ']' is missing)": "массив не закрыт (не хватает ']')",
    "unclosed inline table (a closing brace is missing)":
        "встроенная таблица не закрыта (не хватает закрывающей фигурной скобки)",
    "unescaped '\\' in a string (write '\\\\')": "в строке '\\' без экранирования (пишите '\\\\')",
    "unterminated string (a closing quote is missing)":
        "строка не закрыта (не хватает закрывающей кавычки)",
})

# opchat audit: why the store did something by itself
MESSAGES.update({
    "customer wrote": "клиент написал",
    "edit of a hidden message": "правка скрытого сообщения",
})

# Telegram: what its errors and checks mean, in the status bar, on failed replies and in
# `opchat channel test`
MESSAGES.update({
    "no answer in time": "нет ответа вовремя",
    "the name does not resolve": "имя не находится в DNS",
    "connection refused": "соединение отклонено",
    "the server closed the connection": "сервер закрыл соединение",
    "no description given": "без объяснения",
    "no reason given": "без объяснения",
    "the token was refused ({code}): copy it again from @BotFather":
        "токен отклонён ({code}): скопируйте его заново у @BotFather",
    "Telegram's server failed: {said}": "сбой на сервере Telegram: {said}",
    "cannot reach {host}: {reason}": "нет связи с {host}: {reason}",
    "Telegram says: {said}": "Telegram отвечает: {said}",
    "a webhook is set for this bot (409 conflict); opchat is polling":
        "у бота установлен вебхук (409 conflict), а opchat опрашивает",
    "another program is reading this bot's updates (409 conflict): only one may":
        "обновления этого бота читает другая программа (409 conflict): можно только одной",
    "Telegram asks to wait {seconds} s (429)": "Telegram просит подождать {seconds} с (429)",
    "{host} answered something that is not JSON": "{host} ответил не JSON",
    "; {done} of {total} parts had arrived": "; из {total} частей дошло {done}",
    "Telegram asks to wait {seconds} s (429 too many requests)":
        "Telegram просит подождать {seconds} с (429, слишком много запросов)",
    "the customer blocked the bot, or cannot be written to (403: {said})":
        "клиент заблокировал бота, или ему нельзя написать (403: {said})",
    "the group became supergroup {chat}": "группа стала супергруппой {chat}",
    "Telegram refused the message (400: {said})": "Telegram отклонил сообщение (400: {said})",
    "the file is too large for Telegram (413)": "файл слишком велик для Telegram (413)",
    "the connection broke while sending ({reason}): it may or may not have arrived":
        "связь оборвалась во время отправки ({reason}): неизвестно, дошло ли оно",
    "{host}'s answer could not be read: it may or may not have arrived":
        "ответ {host} не удалось прочитать: неизвестно, дошло ли сообщение",
    "no answer from {host} in {seconds} s (timeout)":
        "{host} не ответил за {seconds} с (тайм-аут)",
    "(network)": "(сеть)",
    "{host} answered something that is not the Bot API (is api_base right?)":
        "{host} ответил не как Bot API (верен ли api_base?)",
    "Telegram asks to wait {seconds} s (429); try again later":
        "Telegram просит подождать {seconds} с (429); попробуйте позже",
    "Telegram cannot deliver to the webhook: {reason}":
        "Telegram не может доставить на вебхук: {reason}",
    "webhook {url}": "вебхук {url}",
    "long polling": "long polling",
    "reached @{username} (id {id}, {name}); {how}":
        "бот @{username} отвечает (id {id}, {name}); {how}",
})

# opchat channel add --set, opchat channel options, and what each option is for
MESSAGES.update({
    "any option of the kind (opchat channel options KIND lists them); VALUE as in the "
    'config file: true, 5, "text", ["a", "b"]; anything else is text':
        "любая настройка этого вида канала (их список: opchat channel options KIND); "
        'VALUE как в файле настроек: true/false, 5, "текст", ["a", "b"]; иное '
        "считается текстом",
    "the options a channel kind takes, as it declares them":
        "настройки, которые принимает вид канала, как он их объявляет",
    "--set {item}: write KEY=VALUE, e.g. --set poll_timeout=30":
        "--set {item}: пишите KEY=VALUE, например --set poll_timeout=30",
    "{kind} declares no options: see its own documentation":
        "{kind} не объявляет настроек: см. его собственное описание",
    "(secret: keep it in {name}_env)": "(секрет: лучше держать в {name}_env)",
    # Telegram
    "the bot's token from @BotFather": "токен бота от @BotFather",
    "an environment variable that holds the token": "переменная окружения с токеном",
    "the Bot API's address (a local Bot API server, a proxy)":
        "адрес Bot API (свой сервер Bot API, прокси)",
    "receive by webhook at this https:// address, not polling":
        "получать вебхуком на этот адрес https://, а не опросом",
    "host:port the webhook is served on": "host:port, где принимается вебхук",
    "fetch files up to this many bytes at once": "сразу скачивать файлы до стольких байт",
    "seconds one long poll waits for updates": "сколько секунд один опрос ждёт обновлений",
    # Web chat
    "host:port the widget and its socket are served on": "host:port, где работают окно и его сокет",
    "a path prefix, when a proxy serves the chat under one":
        "префикс пути, если прокси отдаёт чат под ним",
    "the sites whose pages may open the chat": "сайты, страницам которых можно открывать чат",
    "the address browsers reach the chat at, behind a proxy":
        "адрес, по которому браузеры видят чат за прокси",
    "accept sockets that send no Origin (not browsers)":
        "пускать сокеты без Origin (не браузеры)",
    "reverse proxies whose X-Forwarded-For is believed":
        "обратные прокси, чьему X-Forwarded-For верить",
    "show operators what the visitor is typing": "показывать операторам, что печатает посетитель",
    "the first words the widget shows": "первые слова, которые показывает окно",
    "greetings by page path": "приветствия по пути страницы",
    "the name visitors see on replies": "имя, которое посетители видят у ответов",
    "a picture beside that name": "картинка рядом с этим именем",
    "the widget's title": "заголовок окна",
    "the line under the title": "строка под заголовком",
    "the text in the empty message box": "текст в пустом поле сообщения",
    "the widget's colour, like #2563eb": "цвет окна, например #2563eb",
    "offer a form when nobody is online": "предлагать форму, когда никого нет в сети",
    'offer "call me back"': "предлагать «перезвоните мне»",
    "the widget's words per language": "слова окна по языкам",
    # Demo
    "seconds between customers writing, about": "секунд между сообщениями клиентов, примерно",
    "seconds before a customer answers back": "секунд до ответа клиента",
    "at most this many customers wait at once": "не больше стольких ждущих клиентов сразу",
    "seconds a waiting customer keeps waiting": "сколько секунд клиент готов ждать",
    "how many new customers come over time": "сколько новых клиентов придёт со временем",
})

MESSAGES.update({
    "its pages hold garbage": "в её страницах мусор",
})

# opchat doctor: the disk of the data dir
MESSAGES.update({
    "disk": "диск",
    "{path}: {mib} MiB free: opchat cannot store messages until some space is freed":
        "{path}: свободно {mib} МиБ: opchat не может сохранять сообщения, пока не "
        "освободится место",
    "{path}: only {mib} MiB free; when it is full, opchat cannot store messages":
        "{path}: свободно всего {mib} МиБ; когда место кончится, opchat не сможет "
        "сохранять сообщения",
    # Meta's channels: WhatsApp, Messenger, Instagram
    "{platform} refused the access token (expired or revoked): make a new one in Meta's "
    "dashboard and put it in the config":
        "{platform} не принимает токен доступа (истёк или отозван): создайте новый в "
        "кабинете Meta и впишите его в конфиг",
    "{platform} says: {said}": "{platform} отвечает: {said}",
    "HTTP {status} without an error in Graph's shape":
        "HTTP {status} без описания ошибки в формате Graph",
    "{reason}: it may or may not have arrived": "{reason}: сообщение могло дойти, а могло и нет",
    "the customer wrote more than 24 hours ago, so {platform} takes only a template (or a "
    "tagged message) now: {said}":
        "клиент писал больше 24 часов назад, и {platform} теперь принимает только шаблон "
        "(или сообщение с меткой): {said}",
    "HTTP {status} from {host}": "HTTP {status} от {host}",
    "{host} answered {status} for the file": "{host} ответил {status} на запрос файла",
    "the file is larger than {limit} bytes": "файл больше {limit} байт",
    "{setting} must be the number Meta shows (digits only)":
        "{setting}: нужен номер, который показывает Meta (только цифры)",
    "check the token and see the webhook's address and verify token with: "
    "opchat channel test {name}":
        "проверить токен и узнать адрес вебхука и проверочный токен: "
        "opchat channel test {name}",
    "Meta will call {url}: have your reverse proxy pass it to {local}":
        "Meta будет обращаться к {url}: пусть обратный прокси передаёт запросы на {local}",
    '{setting} must be a Graph API version like "v21.0"':
        '{setting}: нужна версия Graph API вида "v21.0"',
    "channels.{name}.webhook_url: Meta sends webhooks only to https:// addresses":
        "channels.{name}.webhook_url: Meta шлёт вебхуки только на адреса https://",
    "your https:// address": "ваш адрес https://",
    "{platform} could not deliver it: {reason}": "{platform} не смог доставить: {reason}",
    "reached {number}; Meta's webhook: {url} (served at http://{listen}{path}), "
    "verify token {token}":
        "на связи {number}; вебхук для Meta: {url} (принимается на "
        "http://{listen}{path}), проверочный токен {token}",
    "WhatsApp gave no reason": "WhatsApp не назвал причину",
    "{host} did not say which message it took": "{host} не сообщил, какое сообщение принял",
    "your https:// address for {path}": "ваш адрес https:// для {path}",
    "{host} did not say which file it took": "{host} не сообщил, какой файл принял",
    "this file has no WhatsApp media id": "у этого файла нет идентификатора медиа WhatsApp",
    "Choose": "Выбрать",
    "Choose:": "Выберите:",
    "WhatsApp gave no address for this file": "WhatsApp не дал адрес этого файла",
    "WhatsApp cannot give this file: {reason}": "WhatsApp не может отдать этот файл: {reason}",
    "{reason}; {done} of {total} parts had arrived": "{reason}; дошло частей: {done} из {total}",
    "nothing to send: the message has no text and no file":
        "нечего отправлять: в сообщении нет ни текста, ни файла",
    "cannot send {name}: the file is not there any more":
        "не удаётся отправить {name}: файла больше нет",
    "forwarded many times": "переслано много раз",
    "forwarded": "переслано",
    "came from an ad: {what}": "пришёл по рекламе: {what}",
    "came from an ad": "пришёл по рекламе",
    "a kind of message the platform does not pass on: {said}":
        "сообщение такого вида платформа не передаёт: {said}",
    "a kind of message opchat cannot show": "сообщение такого вида opchat показать не может",
    # Options of Meta's channels (`channel add whatsapp --help`, `channel options`)
    "the access token (a system user's, for good)":
        "токен доступа (системного пользователя — бессрочный)",
    "an environment variable that holds the access token":
        "переменная окружения с токеном доступа",
    "the Meta app's secret, which signs the webhooks":
        "секрет приложения Meta, которым подписаны вебхуки",
    "an environment variable that holds the app secret":
        "переменная окружения с секретом приложения",
    "what Meta sends to check the webhook (default: derived from the app secret)":
        "что Meta присылает для проверки вебхука (по умолчанию выводится из секрета "
        "приложения)",
    "an environment variable that holds the verify token":
        "переменная окружения с проверочным токеном",
    "the business phone number's id (not the number)":
        "id номера компании (не сам номер)",
    "the WhatsApp Business Account's id, for the message templates":
        "id WhatsApp Business Account, для шаблонов сообщений",
    "the Graph API's address (a proxy, a test server)":
        "адрес Graph API (прокси, тестовый сервер)",
    'the Graph API version, e.g. "v21.0"': 'версия Graph API, например "v21.0"',
    "the https:// address Meta calls, behind your proxy":
        "адрес https://, который вызывает Meta, за вашим прокси",
    # Message templates
    "the text must keep the template's own words; only the {{1}}, {{2}}… may change":
        "в тексте должны остаться слова шаблона; менять можно только {{1}}, {{2}}…",
    "fill in {variable}": "заполните {variable}",
    "{approved} of {count} approved; in opchat, Alt+T in a dialog of {name} offers them":
        "одобрено {approved} из {count}; в opchat их предлагает Alt+T в диалоге канала {name}",
    "list a channel's message templates (WhatsApp) and offer the approved ones in the app":
        "показать шаблоны сообщений канала (WhatsApp) и предложить одобренные в приложении",
    "channel {name} ({kind}) has no message templates":
        "у канала {name} ({kind}) нет шаблонов сообщений",
    "channel {name} has no message templates yet: make them in WhatsApp Manager":
        "у канала {name} пока нет шаблонов сообщений: создайте их в WhatsApp Manager",
    "channel {name}: no answer in 60 s": "канал {name}: нет ответа за 60 с",
    "set business_account_id to use message templates":
        "для шаблонов сообщений задайте business_account_id",
    # The reply window (Meta's 24 hours)
    "template only: Alt+T": "только шаблон: Alt+T",
    "closed until they write": "закрыто, пока клиент не напишет",
    "{customer} last wrote more than {window} ago: {channel} takes no reply until they "
    "write again.":
        "{customer} писал(а) больше {window} назад: {channel} не примет ответ, пока клиент "
        "не напишет снова.",
    "{time} left to reply": "на ответ {time}",
    "Template": "Шаблон",
    "Write from an approved message template (WhatsApp; all it takes once the 24-hour "
    "window has closed)":
        "Написать по одобренному шаблону (WhatsApp; после 24-часового окна — только так)",
    "{channel} has no approved message templates (opchat channel templates {channel} "
    "fetches them).":
        "у канала {channel} нет одобренных шаблонов (их загружает opchat channel templates "
        "{channel}).",
    "Send an approved template": "Отправить одобренный шаблон",
    "{customer} last wrote more than {window} ago: {channel} takes only an approved "
    "template now. Alt+T picks one.":
        "{customer} писал(а) больше {window} назад: {channel} теперь принимает только "
        "одобренный шаблон. Alt+T — выбрать.",
    "Template {name}: type over each {{…}}, Tab to the next; Enter sends it":
        "Шаблон {name}: впишите вместо каждого {{…}}, Tab — к следующему; Enter отправит",
    "header": "заголовок",
    "value": "значение",
    "Template {name}: {problem}": "Шаблон {name}: {problem}",
    "no template: a reply of my own": "без шаблона: свой ответ",
    "reply window closed: Alt+T sends a template":
        "окно ответа закрыто: Alt+T отправит шаблон",
    "reply window closes in {time}": "окно ответа закроется через {time}",
    # Messenger and Instagram
    "message {message} deleted by the customer": "{message} удалено клиентом",
    "the customer cannot get messages from {platform} now (they blocked it or left): {said}":
        "клиент сейчас не может получать сообщения {platform} (заблокировал или ушёл): "
        "{said}",
    "the customer wrote more than 24 hours ago, so {platform} takes no reply now; with "
    "human_agent on, a person may answer for 7 days ({said})":
        "клиент писал больше 24 часов назад, и {platform} сейчас не принимает ответ; с "
        "включённым human_agent человек может отвечать 7 дней ({said})",
    "the customer wrote more than 7 days ago: {platform} takes no reply now ({said})":
        "клиент писал больше 7 дней назад: {platform} сейчас не принимает ответ ({said})",
    "{platform} gave no address for this file": "{platform} не дал адреса этого файла",
    "{platform} cannot give this file: {reason}": "{platform} не может отдать этот файл: "
                                                  "{reason}",
    "page {id}": "страница {id}",
    "deleted by the customer": "удалено клиентом",
    "sent from elsewhere ({tool})": "отправлено не из opchat ({tool})",
    "sent from elsewhere": "отправлено не из opchat",
    "mentioned you in their story: {url}": "упомянул вас в своей истории: {url}",
    "mentioned you in their story": "упомянул вас в своей истории",
    "replied to your story: {url}": "ответил на вашу историю: {url}",
    "replied to your story": "ответил на вашу историю",
    "answer up to 7 days after the customer's last message (Meta's Human Agent "
    "permission), not only 24 hours":
        "отвечать до 7 дней после последнего сообщения клиента (разрешение Human Agent "
        "у Meta), а не только 24 часа",
    "the Meta app's id, to tell opchat's own sends among the echoes (default: asked of "
    "Graph)":
        "id приложения Meta, чтобы узнавать собственные отправки opchat среди эхо (по "
        "умолчанию спрашивается у Graph)",
    "the Facebook Page's id": "id страницы Facebook",
    "the Instagram professional account's id (not the @username)":
        "id профессионального аккаунта Instagram (не @имя)",
    # --- opchat stats ---
    "how fast customers were answered: response times, missed dialogs, messages":
        "как быстро отвечали клиентам: время ответа, пропущенные диалоги, сообщения",
    "today, yesterday, the last 7 or 30 days (default: 7d)":
        "сегодня ('today'), вчера ('yesterday'), последние 7 или 30 дней ('7d', '30d'; "
        "по умолчанию '7d')",
    "from this day (or moment): YYYY-MM-DD or 'YYYY-MM-DD HH:MM', local time":
        "с этого дня (или момента): ГГГГ-ММ-ДД или 'ГГГГ-ММ-ДД ЧЧ:ММ', местное время",
    "to the end of this day (or this moment; default: now)":
        "по конец этого дня (или до этого момента; по умолчанию — до сейчас)",
    "one row per channel, operator, label, hour of day or day":
        "по строке на канал ('channel'), оператора ('operator'), метку ('label'), "
        "час дня ('hour') или день ('day')",
    "table (default), csv or json": "таблица ('table', по умолчанию), 'csv' или 'json'",
    "durations in each channel's working hours (its 'hours'), not calendar time; CSV and "
    "JSON always hold both":
        "длительности в рабочих часах каждого канала (его 'hours'), а не по календарю; "
        "в CSV и JSON есть и то и другое",
    ", in working hours": ", в рабочих часах",
    "recompute the figures from the events log first":
        "сначала пересчитать показатели по журналу событий",
    "give either --period or --from/--to, not both":
        "укажите либо --period, либо --from/--to, но не то и другое",
    "the period ends before it begins": "период кончается раньше, чем начинается",
    "From {start} to {end}": "С {start} по {end}",
    "Nothing happened in this period.": "За этот период ничего не было.",
    "Dialogs started": "Новых диалогов",
    "Reopened": "Открыто снова",
    "Resolved": "Решено",
    "Missed (no human answer)": "Пропущено (без ответа человека)",
    "Messages in / out": "Сообщений от клиентов / им",
    "First response": "Первый ответ",
    "Reply time": "Время ответа",
    "Resolution": "Время до решения",
    "median {median} · P90 {p90} · mean {mean} · {n} in all":
        "медиана {median} · P90 {p90} · среднее {mean} · всего {n}",
    "Answered within 30s / 60s": "Ответ за 30с / 60с",
    "group": "группа",
    "dialogs": "диалогов",
    "missed": "пропущ.",
    "in": "вход.",
    "out": "исход.",
    "1st resp.": "1-й ответ",
    "P90": "P90",
    "≤60s": "≤60с",
    "reply": "ответ",
    "resolution": "решение",
    "1st resp.: median first response; ≤60s: share of first responses within a minute; "
    "reply, resolution: medians":
        "1-й ответ: медиана первого ответа; ≤60с: доля первых ответов за минуту; "
        "ответ, решение: медианы",
    # --- the stats screen ---
    "Statistics": "Статистика",
    "Statistics (Alt+S)": "Статистика (Alt+S)",
    "How fast customers are answered: response times, missed dialogs":
        "Как быстро отвечают клиентам: время ответа, пропущенные диалоги",
    "How fast customers are answered: response times, missed dialogs (Alt+S)":
        "Как быстро отвечают клиентам: время ответа, пропущенные диалоги (Alt+S)",
    "Close the statistics": "Закрыть статистику",
    "Work hours": "Раб. часы",
    "Count durations in working hours, or by the calendar":
        "Считать длительности в рабочих часах или по календарю",
    " · working hours": " · в рабочих часах",
    "Today": "Сегодня",
    "Yesterday": "Вчера",
    "7 days": "7 дней",
    "30 days": "30 дней",
    "Dates": "Даты",
    "Statistics of today": "Статистика за сегодня",
    "Statistics of yesterday": "Статистика за вчера",
    "Statistics of the last 7 days": "Статистика за последние 7 дней",
    "Statistics of the last 30 days": "Статистика за последние 30 дней",
    "Type the dates: from, and optionally to": "Ввести даты: с какого дня и, если нужно, по какой",
    "From YYYY-MM-DD, and optionally to YYYY-MM-DD":
        "С ГГГГ-ММ-ДД и, если нужно, по ГГГГ-ММ-ДД",
    "Type a date as YYYY-MM-DD, or two: from and to":
        "Введите дату как ГГГГ-ММ-ДД или две: с и по",
    "Reading…": "Читаю…",
    "today": "сегодня",
    "yesterday": "вчера",
    "last 7 days": "последние 7 дней",
    "last 30 days": "последние 30 дней",
    "chosen dates": "выбранные даты",
    "Statistics · {period}": "Статистика · {period}",
    "Dialogs {n} ({reopened} reopened) · resolved {resolved} · missed {missed} · messages "
    "in {inbound}, out {outbound}":
        "Диалогов {n} (снова открыто {reopened}) · решено {resolved} · пропущено {missed} · "
        "сообщений от клиентов {inbound}, им {outbound}",
    "median {median} · P90 {p90} · mean {mean} · {n}":
        "медиана {median} · P90 {p90} · среднее {mean} · {n}",
    "Within": "Успели",
    "30s: {a} · 60s: {b} of first responses": "за 30с: {a} · за 60с: {b} первых ответов",
    "First responses": "Первые ответы",
    "≤{limit}": "≤{limit}",
    ">{limit}": ">{limit}",
    "Answers by hour of day": "Ответы по часам дня",
    "Dialogs per day": "Диалоги по дням",
    "By operator": "По операторам",
    "By channel": "По каналам",
    "answers": "ответов",
    # --- vk channel ---
    "VK refused the community's token (wrong, revoked, or not a community token): make one "
    "in the community's Manage → API usage and put it in the config":
        "VK не принимает токен сообщества (неверный, отозван или не токен сообщества): "
        "создайте новый в сообществе, Управление → Работа с API, и впишите его в конфигурацию",
    "VK says: {said}": "VK отвечает: {said}",
    "an error without VK's shape": "ошибка не в формате VK",
    "{host} answered {method} without a response": "{host} ответил на {method} без response",
    "the long poll answered something that is not an object":
        "long poll ответил не объектом JSON",
    "the upload server answered something that is not an object":
        "сервер загрузки ответил не объектом JSON",
    "{host} answered something that is not JSON (HTTP {status})":
        "{host} ответил не в формате JSON (HTTP {status})",
    "the customer cannot get messages from the community now (they forbade it or blocked "
    "it): {said}":
        "клиент сейчас не может получать сообщения сообщества (запретил их или заблокировал "
        "сообщество): {said}",
    "{name}, long poll": "{name}, long poll",
    "reached {name} (vk.com/{screen}, id {id}); VK API {version}; {how}":
        "доступно сообщество {name} (vk.com/{screen}, id {id}); VK API {version}; {how}",
    "VK gave no community for id {id}": "VK не вернул сообщество с id {id}",
    "Callback API at {url} (confirmation {confirmation})":
        "Callback API по адресу {url} (строка подтверждения {confirmation})",
    "Bots Long Poll": "Bots Long Poll",
    "{name}, Callback API": "{name}, Callback API",
    "VK did not say which photo it kept": "VK не сказал, какую фотографию сохранил",
    "VK's upload server did not take the file": "сервер загрузки VK не принял файл",
    "VK did not say which document it kept": "VK не сказал, какой документ сохранил",
    "VK gave no address for this file": "VK не дал адреса этого файла",
    "the long poll answered something unexpected": "long poll ответил что-то непонятное",
    "cannot send {name}: VK takes only files from this computer":
        "не отправить {name}: VK принимает только файлы с этого компьютера",
    "VK cannot give this file: {reason}": "VK не может отдать этот файл: {reason}",
    "VK knows no community {id}: {said}": "VK не знает сообщества {id}: {said}",
    "Bots Long Poll is off or the token lacks the right: turn it on in Manage → API usage → "
    "Long Poll API ({said})":
        "Bots Long Poll выключен или у токена нет права: включите его в Управление → Работа "
        "с API → Long Poll API ({said})",
    "wall post: {link}": "запись на стене: {link}",
    "an attachment VK calls {kind}": "вложение, которое VK называет {kind}",
    "audio: {artist} — {title}": "аудиозапись: {artist} — {title}",
    "product: {title}": "товар: {title}",
    "poll: {question}": "опрос: {question}",
    "a gift": "подарок",
    "(no text)": "(без текста)",
    "video: {title} {link}": "видео: {title} {link}",
    "link: {title} {url}": "ссылка: {title} {url}",
    "{setting} must be the community's id, digits only (for vk.com/club218374615 it is "
    "218374615)":
        "{setting} должен быть id сообщества, только цифры (для vk.com/club218374615 это "
        "218374615)",
    "channels.{name}: the Callback API needs confirmation, the string VK shows to return":
        "channels.{name}: для Callback API нужен confirmation — строка, которую VK просит "
        "вернуть",
    "channels.{name}: the Callback API needs secret (or secret_env), the secret key set in VK":
        "channels.{name}: для Callback API нужен secret (или secret_env) — секретный ключ, "
        "заданный в VK",
    "channels.{name}.webhook_url: use an https:// address for the Callback API":
        "channels.{name}.webhook_url: для Callback API нужен адрес https://",
    "VK will call {url}: have your reverse proxy pass it to {local}":
        "VK будет обращаться к {url}: настройте обратный прокси, чтобы он передавал запросы "
        "на {local}",
    "the community's access token (Manage → API usage)":
        "ключ доступа сообщества (Управление → Работа с API)",
    "the community's id (digits)": "id сообщества (цифры)",
    "the VK API's address (a proxy, a test server)":
        "адрес VK API (прокси, тестовый сервер)",
    "receive by the Callback API on the hub's server, not Bots Long Poll":
        "получать через Callback API на сервере хаба, а не через Bots Long Poll",
    "the string VK asks the Callback API address to return":
        "строка, которую VK просит вернуть адрес Callback API",
    "the Callback API's secret key": "секретный ключ Callback API",
    "an environment variable that holds the secret key":
        "переменная окружения с секретным ключом",
    "the https:// address VK calls, behind your proxy":
        "адрес https://, к которому обращается VK, за вашим прокси",
    "host:port the Callback API is served on": "host:port, на котором принимается Callback API",
    "seconds one long poll waits for events": "сколько секунд один запрос long poll ждёт событий",
    "Bots Long Poll is off: turn it on in Manage → API usage → Long Poll API":
        "Bots Long Poll выключен: включите его в Управление → Работа с API → Long Poll API",
    "Bots Long Poll does not send {events}: tick them in Manage → API usage → Long Poll API "
    "→ Event types":
        "Bots Long Poll не присылает {events}: отметьте их в Управление → Работа с API → "
        "Long Poll API → Типы событий",
    "Bots Long Poll sends events of API version {found}: choose {version} in Manage → API "
    "usage → Long Poll API":
        "Bots Long Poll присылает события версии API {found}: выберите {version} в "
        "Управление → Работа с API → Long Poll API",
    "VK expects the confirmation string {code}, the config has {confirmation}: set "
    "confirmation = \"{code}\"":
        "VK ждёт строку подтверждения {code}, а в конфигурации {confirmation}: впишите "
        "confirmation = \"{code}\"",
    "VK gave no long poll server": "VK не дал сервера long poll",
    "chat action: {action}": "событие беседы: {action}",
    # --- service-level targets ---
    "sla.channels.{name}: there is no channel {name} (channels: {known})":
        "sla.channels.{name}: канала {name} нет (каналы: {known})",
    "{setting} must be a duration like \"90s\", \"5m\", \"1h30m\" or \"2d\", not {value}":
        "{setting} должно быть длительностью вроде \"90s\", \"5m\", \"1h30m\" или \"2d\", "
        "а не {value}",
    "SLA ✗": "SLA ✗",
    "SLA {left}": "SLA {left}",
    "first response": "первый ответ",
    "answer": "ответ",
    "{what} target missed": "{what}: срок пропущен",
    "{what} due in {left}": "{what}: осталось {left}",
    "Targets missed (SLA)": "Сроки пропущены (SLA)",
    "SLA": "SLA",
    "missed: first response {a} · answer {b} · resolution {c}":
        "пропущено: первый ответ {a} · ответ {b} · решение {c}",
    # --- email channel ---
    "the IMAP server that receives the mail": "IMAP-сервер, на который приходит почта",
    "its port (default 993 for tls, 143 otherwise)":
        "его порт (по умолчанию 993 для tls, иначе 143)",
    "tls (default), starttls or plain (local test servers)":
        "tls (по умолчанию), starttls или plain (локальные тестовые серверы)",
    "the SMTP server that sends the replies": "SMTP-сервер, через который уходят ответы",
    "its port (default 465 for tls, 587 for starttls)":
        "его порт (по умолчанию 465 для tls, 587 для starttls)",
    "the login on both servers (often the address)":
        "логин на обоих серверах (часто это адрес)",
    "the password (an app password where the provider asks)":
        "пароль (пароль приложения, если почтовый сервис его требует)",
    "an environment variable that holds the password":
        "переменная окружения, в которой хранится пароль",
    "the address replies come from (default: the login)":
        "адрес, с которого уходят ответы (по умолчанию логин)",
    "the name replies come from, e.g. the shop's":
        "имя отправителя ответов, например название магазина",
    "the folders to watch (default: INBOX)": "папки, за которыми следить (по умолчанию INBOX)",
    "how often to look for mail where the server has no IDLE (default 60)":
        "как часто проверять почту, если сервер не умеет IDLE (по умолчанию 60)",
    "on the first start, take mail of this many days (default 7)":
        "при первом запуске взять почту за столько дней (по умолчанию 7)",
    "bytes: a bigger message is kept without its files (default 50000000)":
        "байт: письмо больше этого сохраняется без файлов (по умолчанию 50000000)",
    "{setting} must be tls, starttls or plain": "{setting} должно быть tls, starttls или plain",
    "{setting} must be a host name, like imap.example.com":
        "{setting} должно быть именем сервера, например imap.example.com",
    "{setting} must be a port between 1 and 65535":
        "{setting} должно быть портом от 1 до 65535",
    "{setting} must name at least one folder, e.g. INBOX":
        "в {setting} должна быть хотя бы одна папка, например INBOX",
    "{setting} must be an e-mail address": "{setting} должно быть адресом электронной почты",
    "check both servers with: opchat channel test {name}":
        "проверьте оба сервера: opchat channel test {name}",
    "the mail came back: {reason}": "письмо вернулось: {reason}",
    "IDLE": "IDLE",
    "checked every {seconds} s": "проверка каждые {seconds} с",
    "logged in as {user}": "вход как {user}",
    "takes mail without a login": "принимает почту без входа",
    "IMAP {imap}: logged in as {user}, folders {folders}, {how}; SMTP {smtp}: {login}; "
    "replies from {address}":
        "IMAP {imap}: вход как {user}, папки {folders}, {how}; SMTP {smtp}: {login}; "
        "ответы с адреса {address}",
    "{server} refused the login for {user}: {words}":
        "{server} не пустил {user}: {words}",
    "{server} does not offer STARTTLS (use tls or plain)":
        "{server} не предлагает STARTTLS (укажите tls или plain)",
    "{server}: TLS failed: {reason}": "{server}: не удалось установить TLS: {reason}",
    "{server} has no folder {folder} ({words})": "на {server} нет папки {folder} ({words})",
    "{server}: the server closed the connection": "{server}: сервер закрыл соединение",
    "{server}: the name does not resolve (DNS)": "{server}: имя не находится (DNS)",
    "{server}: no answer in {seconds} s": "{server}: нет ответа за {seconds} с",
    "{server}: connection refused": "{server}: в соединении отказано",
    "{server} says: {words}": "{server} отвечает: {words}",
    "{server} refused {address}: {words}": "{server} не принял адрес {address}: {words}",
    "{server} refused the message: {words}": "{server} не принял письмо: {words}",
    "{server}: the connection broke while the server was taking the message ({reason}); "
    "it may have been sent, so it is not sent again":
        "{server}: соединение оборвалось, пока сервер принимал письмо ({reason}); возможно, "
        "оно ушло, поэтому повторно не отправляется",
    # --- customers' ratings ---
    "ask the customer to rate a dialog 1-5 when it is resolved":
        "просить клиента оценить диалог от 1 до 5, когда его решили",
    "the rating question (default: opchat's, with buttons 1-5)":
        "вопрос об оценке (по умолчанию — от opchat, с кнопками 1–5)",
    "rated the conversation {n} of 5": "оценил(а) диалог на {n} из 5",
    "rated": "оценка",
    "Customers' ratings": "Оценки клиентов",
    "{average:.1f} of 5 · {good} gave 4 or 5 · {n} in all ({given})":
        "{average:.1f} из 5 · {good} поставили 4 или 5 · всего {n} ({given})",
    "Ratings": "Оценки",
    "{average:.1f} of 5 · {good} gave 4 or 5 · {n}":
        "{average:.1f} из 5 · {good} поставили 4 или 5 · {n}",
    "rating": "оценка",
    "the customer rated the conversation {n} of 5": "клиент оценил диалог на {n} из 5",

    # --- max channel ---
    "MAX refused the bot's token (wrong or revoked): copy it again from business.max.ru → "
    "Chat bots → ⋮ → Settings and put it in the config":
        "MAX не принимает токен бота (неверный или отозван): скопируйте его заново на "
        "business.max.ru → Чат-боты → ⋮ → Настройки и впишите в конфигурацию",
    "MAX says: {said}": "MAX отвечает: {said}",
    "the customer cannot get messages from the bot now (they stopped or blocked it): "
    "{said}":
        "клиент сейчас не может получать сообщения от бота (остановил или заблокировал "
        "его): {said}",
    "reached {name} (@{username}, id {id}); {how}":
        "связь с {name} есть (@{username}, id {id}); {how}",
    "webhook": "вебхук",
    "MAX did not take the webhook: {said}": "MAX не принял вебхук: {said}",
    "MAX gave no address to upload the file to": "MAX не дал адреса для загрузки файла",
    "MAX gave no address for this file": "MAX не дал адреса этого файла",
    "MAX answered /updates with something unexpected": "MAX ответил на /updates что-то не то",
    "MAX cannot give this file: {reason}": "MAX не может отдать этот файл: {reason}",
    "MAX answered /me without the bot": "MAX ответил на /me без сведений о боте",
    "webhook at {url}": "вебхук по адресу {url}",
    "webhook at {url}, not subscribed yet (opchat serve subscribes it)":
        "вебхук по адресу {url}, подписки ещё нет (её оформит opchat serve)",
    "MAX did not say which message it sent": "MAX не сказал, какое сообщение отправил",
    "MAX's upload server did not take the file": "сервер загрузки MAX не принял файл",
    "started the bot from: {payload}": "запустил бота, пришёл из: {payload}",
    "started the bot": "запустил бота",
    "{name} joined the chat": "{name} вступает в чат",
    "{name} left the chat": "{name} выходит из чата",
    "a video": "видео",
    "contact: {name} {phone}": "контакт: {name} {phone}",
    "an attachment MAX calls {kind}": "вложение, которое MAX называет {kind}",
    "the bot's token (business.max.ru → Chat bots → Settings)":
        "токен бота (business.max.ru → Чат-боты → Настройки)",
    "the MAX Bot API's address (platform-api2.max.ru, a proxy, a test server)":
        "адрес MAX Bot API (platform-api2.max.ru, прокси, тестовый сервер)",
    "receive by a webhook subscription on the hub's server, not long polling":
        "получать через подписку на вебхук на сервере хаба, а не через long polling",
    "the https:// address MAX calls, behind your proxy":
        "адрес https://, к которому обращается MAX, за вашим прокси",
    "the webhook's secret (default: one made and kept in the data dir)":
        "секрет вебхука (по умолчанию создаётся и хранится в каталоге данных)",
    "an environment variable that holds the webhook's secret":
        "переменная окружения с секретом вебхука",
    "channels.{name}: a MAX webhook needs webhook_url, the https:// address MAX calls":
        "channels.{name}: вебхуку MAX нужен webhook_url — адрес https://, к которому "
        "обращается MAX",
    "channels.{name}.webhook_url: MAX calls only https:// addresses":
        "channels.{name}.webhook_url: MAX обращается только к адресам https://",
    "{setting} must be 5 to 256 characters of A-Z, a-z, 0-9, _ and -":
        "{setting} должен состоять из 5–256 символов A-Z, a-z, 0-9, _ и -",
    "MAX will call {url}: have your reverse proxy pass it to {local}":
        "MAX будет обращаться к {url}: пусть обратный прокси передаёт это на {local}",
    # --- transcripts by e-mail ---
    "transcript asked for, to {to}": "запрошена копия переписки на {to}",
    "transcript sent to {to}": "копия переписки отправлена на {to}",
    "transcript to {to} not sent: {why}": "копия переписки на {to} не отправлена: {why}",
    "[transcripts] needs channel = \"NAME\", an email channel to send them through "
    "(email channels: {known})":
        "в [transcripts] нужен channel = \"ИМЯ\" — канал эл. почты, через который их "
        "отправлять (каналы почты: {known})",
    "transcripts.channel: {name} is not an email channel (email channels: {known})":
        "transcripts.channel: {name} — не канал эл. почты (каналы почты: {known})",
    "no e-mail channel is set for transcripts ([transcripts] channel)":
        "не задан канал эл. почты для копий переписки ([transcripts] channel)",
    "channel {name} is not running": "канал {name} не запущен",
    "Transcript sent to {to} by e-mail ({channel})":
        "Копия переписки отправлена на {to} по эл. почте ({channel})",
    "Transcript to {to} not sent: {why}": "Копия переписки на {to} не отправлена: {why}",
    "Transcript": "Копия",
    "Transcript asked for: it is noted in the thread once sent.":
        "Копия переписки запрошена: когда она уйдёт, в переписке появится заметка.",
    "E-mail the customer a transcript of the conversation":
        "Отправить клиенту копию переписки по эл. почте",
    "Transcripts are not set up: add [transcripts] with channel = \"NAME\" (an email "
    "channel) to the config":
        "Копии переписки не настроены: добавьте в конфигурацию [transcripts] с "
        "channel = \"ИМЯ\" (канал эл. почты)",
    "{name} has no e-mail address: nowhere to send the transcript":
        "У {name} нет адреса эл. почты: некуда отправить копию переписки",
    "The whole conversation as the customer saw it, without notes; the hub sends it and "
    "says in the thread that it went.":
        "Вся переписка так, как её видел клиент, без заметок; хаб отправит её и отметит "
        "это в переписке.",
    "E-mail the transcript?": "Отправить копию переписки?",
    "send": "отправить",
    # --- webhooks ---
    "[webhooks.{name}] needs url = \"https://...\", the address events are sent to":
        "[webhooks.{name}]: нужен url = \"https://...\", адрес, на который отправляются "
        "события",
    "webhooks.{name}.url must be an http:// or https:// address, not {value}":
        "webhooks.{name}.url должен быть адресом http:// или https://, а не {value}",
    "webhooks.{name}.secret_env must name an environment variable, not {value}":
        "webhooks.{name}.secret_env должен быть именем переменной окружения, а не {value}",
    "[webhooks.{name}] needs secret = \"...\" (or secret_env = \"VARIABLE\"): "
    "deliveries are signed with it":
        "[webhooks.{name}]: нужен secret = \"...\" (или secret_env = \"ПЕРЕМЕННАЯ\"): им "
        "подписывается каждая доставка",
    "webhooks.{name}.events is empty: leave it out to get every event":
        "webhooks.{name}.events пуст: уберите его, чтобы получать все события",
    "webhooks.{name}.events: unknown event {value} (events: {known})":
        "webhooks.{name}.events: неизвестное событие {value} (события: {known})",
    "the environment variable {variable} (secret_env) is not set":
        "переменная окружения {variable} (secret_env) не задана",
    "no answer in {seconds} s": "нет ответа за {seconds} с",
    "cannot connect: {error}": "не удаётся подключиться: {error}",
    "delivery {id} failed: {reason}": "доставка {id} не удалась: {reason}",
    "gave up after {attempts} attempts: {reason}":
        "попытки прекращены после {attempts}: {reason}",
    "attempts: {n}": "попыток: {n}",
    "queued again: {n}; the hub sends them": "снова в очереди: {n}; хаб их отправит",
    "no webhook {name} in {path} (webhooks: {known})":
        "в {path} нет вебхука {name} (вебхуки: {known})",
    "{name} did not take the test event: {reason}":
        "{name} не принял тестовое событие: {reason}",
    "see and resend the outgoing webhooks": "просмотр и повторная отправка исходящих вебхуков",
    "the webhooks, their last deliveries and the failed ones":
        "вебхуки, их последние доставки и неудавшиеся",
    "send deliveries again": "отправить доставки ещё раз",
    "a delivery's number, as `webhooks list` shows it":
        "номер доставки, как его показывает `webhooks list`",
    "every failed delivery": "все неудавшиеся доставки",
    "send a signed test event and say what the receiver answered":
        "отправить подписанное тестовое событие и показать, что ответил получатель",
    "the webhook's name in the config": "имя вебхука в конфигурации",
    "no webhooks: add a [webhooks.NAME] table with url and secret to {path}":
        "вебхуков нет: добавьте в {path} таблицу [webhooks.ИМЯ] с url и secret",
    "all events": "все события",
    "say which deliveries: their numbers, or --failed":
        "укажите, какие доставки: их номера или --failed",
    "no delivery {ids}": "нет доставки {ids}",
    "{name} answered HTTP {status}: {body}": "{name} ответил HTTP {status}: {body}",
    "queued {queued}, delivered {delivered}, failed {failed}":
        "в очереди {queued}, доставлено {delivered}, не удалось {failed}",
    "failed (opchat webhooks retry ID, or --failed for all):":
        "не удались (opchat webhooks retry НОМЕР или --failed для всех):",
    # --- viber channel ---
    "Viber refused the bot's token (wrong or revoked): copy it again from partners.viber.com → "
        "your bot → Info and put it in the config":
        "Viber не принимает токен бота (неверный или отозван): скопируйте его заново в "
            "partners.viber.com → ваш бот → Info и укажите в конфигурации",
    "the webhook address is not valid (Viber needs https:// with a valid certificate)":
        "адрес вебхука недействителен (Viber нужен https:// с действительным сертификатом)",
    "the token is not valid": "токен недействителен",
    "Viber found an error in the request": "Viber нашёл ошибку в запросе",
    "some data Viber needs is missing": "не хватает данных, нужных Viber",
    "the customer is not registered in Viber": "клиент не зарегистрирован в Viber",
    "the customer has not subscribed to the bot (or unsubscribed)":
        "клиент не подписан на бота (или отписался)",
    "the bot's account is blocked": "аккаунт бота заблокирован",
    "the token belongs to no bot account": "токен не принадлежит ни одному аккаунту бота",
    "the bot's account is suspended": "аккаунт бота приостановлен",
    "no webhook is set for the bot": "у бота не задан вебхук",
    "the customer's Viber cannot receive this message":
        "Viber клиента не может принять это сообщение",
    "too many requests": "слишком много запросов",
    "the API version is not supported": "версия API не поддерживается",
    "the message is not compatible with the customer's Viber":
        "сообщение несовместимо с Viber клиента",
    "Viber status {status}": "статус Viber {status}",
    "Viber says: {said}": "Viber отвечает: {said}",
    "{host} answered something that is not Viber's (HTTP {status})":
        "{host} ответил не так, как отвечает Viber (HTTP {status})",
    "the customer cannot get messages from the bot now: {said}":
        "клиент сейчас не может получать сообщения бота: {said}",
    "reached {name} ({uri}, {count} subscribers); {how}":
        "связь с {name} есть ({uri}, подписчиков: {count}); {how}",
    "webhook set to {url}": "вебхук установлен на {url}",
    "no webhook set (opchat serve sets it when public_url is given)":
        "вебхук не установлен (opchat serve установит его, если задан public_url)",
    "Viber takes files only by an address it can fetch: set the channel's public_url to the hub's"
        " https:// address":
        "Viber принимает файлы только по адресу, который может скачать: укажите в public_url "
            "канала https://-адрес хаба",
    "Viber gave no address for this file": "Viber не дал адреса этого файла",
    "the webhook points at {url}, not {ours} (opchat serve sets it)":
        "вебхук указывает на {url}, а не на {ours} (opchat serve установит его)",
    "no public_url: Viber needs the hub's https:// address":
        "нет public_url: Viber нужен https://-адрес хаба",
    "no public_url: Viber cannot call the hub; set it and run opchat channel test {name}":
        "нет public_url: Viber не может обращаться к хабу; задайте его и выполните opchat channel"
            " test {name}",
    "Viber cannot give this file: {reason}": "Viber не может отдать этот файл: {reason}",
    "Viber did not take the webhook: {said}": "Viber не принял вебхук: {said}",
    "Viber did not say which message it sent": "Viber не сообщил, какое сообщение отправил",
    "Viber could not deliver it: {said}": "Viber не смог доставить его: {said}",
    "Contact: {name} {phone}": "Контакт: {name} {phone}",
    "a Viber message of a kind opchat does not show":
        "сообщение Viber такого вида, который opchat не показывает",
    "Viber did not take the webhook yet ({said}); opchat serve sets it when it starts (Viber "
        "checks the address then)":
        "Viber пока не принял вебхук ({said}); opchat serve установит его при запуске (тогда "
            "Viber и проверит адрес)",
    "no token yet: set it, then opchat serve sets the webhook":
        "токена пока нет: задайте его, и opchat serve установит вебхук",
    "the bot's token (partners.viber.com → your bot → Info)":
        "токен бота (partners.viber.com → ваш бот → Info)",
    "the hub's https:// address that Viber calls, behind your proxy":
        "https://-адрес хаба, к которому обращается Viber, за вашим прокси",
    "the name the customers see on the bot's messages":
        "имя, которое клиенты видят на сообщениях бота",
    "the address of the avatar shown on the bot's messages":
        "адрес аватара, показываемого на сообщениях бота",
    "the Viber REST API's address (a proxy, a test server)":
        "адрес REST API Viber (прокси, тестовый сервер)",
    "channels.{name}.public_url: Viber calls only https:// addresses":
        "channels.{name}.public_url: Viber обращается только к адресам https://",
    "could not set the webhook now ({reason}); opchat serve sets it when it starts":
        "не удалось установить вебхук сейчас ({reason}); opchat serve установит его при запуске",
    "Viber will call {url}: have your reverse proxy pass it to {local}":
        "Viber будет обращаться к {url}: пусть обратный прокси передаёт это на {local}",
    "no public_url: Viber cannot reach the hub until it is set":
        "нет public_url: Viber не сможет обращаться к хабу, пока он не задан",
    "the customer unsubscribed from the bot: Viber takes nothing for them until they "
        "subscribe or write again":
        "клиент отписался от бота: Viber ничего для него не примет, пока он не подпишется "
            "или не напишет снова",
    # --- PostgreSQL store ---
    "a PostgreSQL database to keep the store in instead of the data dir's SQLite file (env "
        "OPCHAT_DATABASE_URL, config [store] url)":
        "база PostgreSQL, в которой хранить данные вместо файла SQLite в каталоге данных "
            "(переменная OPCHAT_DATABASE_URL, в конфиге [store] url)",
    "store.url must be a PostgreSQL address (postgresql://user@host/database), not {value}; "
        "leave it out to keep the SQLite file in the data dir":
        "store.url должен быть адресом PostgreSQL (postgresql://пользователь@хост/база), а не "
            "{value}; уберите его, чтобы хранить данные в файле SQLite в каталоге данных",
    "the store: where it is, moving it": "хранилище: где оно и как его перенести",
    "which store is in use, its schema version and size":
        "какое хранилище используется, версия его схемы и размер",
    "copy the data dir's SQLite store into an empty PostgreSQL database":
        "скопировать хранилище SQLite из каталога данных в пустую базу PostgreSQL",
    "copy the data dir's SQLite store into an empty PostgreSQL database; the SQLite file is "
        "left as it is. Then set [store] url to use it.":
        "скопировать хранилище SQLite из каталога данных в пустую базу PostgreSQL; файл SQLite "
            "остаётся как есть. Затем задайте [store] url, чтобы работать с копией.",
    "the PostgreSQL database, postgresql://user@host/database":
        "база PostgreSQL, postgresql://пользователь@хост/база",
    "store: {backend}": "хранилище: {backend}",
    "where: {where}": "где: {where}",
    "server: {server}": "сервер: {server}",
    "schema version: {version} (this opchat: {ours})":
        "версия схемы: {version} (у этого opchat: {ours})",
    "size: {size}": "размер: {size}",
    "{url} is not a PostgreSQL address (postgresql://user@host/database)":
        "{url} — не адрес PostgreSQL (postgresql://пользователь@хост/база)",
    "PostgreSQL needs the psycopg package: pip install 'opchat[postgresql]'":
        "для PostgreSQL нужен пакет psycopg: pip install 'opchat[postgresql]'",
    "{table}: {done} of {total} rows ({share}%)": "{table}: {done} из {total} строк ({share}%)",
    "copying {path} into {url}": "копирую {path} в {url}",
    "not copied: {error}": "не скопировано: {error}",
    "copied and checked: {tables} tables, {rows} rows, the same counts on both sides, last "
        "event {event}":
        "скопировано и проверено: таблиц {tables}, строк {rows}, числа строк совпадают, "
            "последнее событие {event}",
    "{path} is left as it was. To use the copy, set in the config:":
        "{path} не тронут. Чтобы работать с копией, укажите в конфиге:",
    "{path}: {server}, empty; opchat sets it up on the first start":
        "{path}: {server}, пустая; opchat подготовит её при первом запуске",
    "the shared duties are run by the hub at {where}":
        "общие обязанности выполняет хаб на {where}",
    "run by the hub at {where}": "работает в хабе на {where}",
    "no hub runs it now": "сейчас его не запускает ни один хаб",
    # --- EMAIL: answers to the web chat by e-mail, copies in Sent, bounces ---
    "an email channel: answers to a visitor who left an address and is no longer on the "
        "page go there by e-mail":
        "канал электронной почты: ответы посетителю, который оставил адрес и ушёл со "
            "страницы, уходят через него письмом",
    "where copies of the replies are kept (default: the folder the server marks Sent; \"\" "
        "keeps none)":
        "куда класть копии ответов (по умолчанию — папка, которую сервер помечает как Sent; "
            "\"\" — не класть)",
    "{server} did not take the copy into {folder}: {words}":
        "{server} не принял копию в папку {folder}: {words}",
    "a reply went out, but its copy is not in {folder}: {reason}":
        "ответ ушёл, но его копии нет в папке {folder}: {reason}",
    "channels.{channel}.email_channel: {name} is not an email channel (email channels: "
        "{known})":
        "channels.{channel}.email_channel: {name} — не канал электронной почты (каналы "
            "почты: {known})",
    "Your message to {business}": "Ваше сообщение для {business}",
    "us": "нас",
    "The visitor has left; the answer did not go to {to} by e-mail: {why}":
        "Посетитель ушёл со страницы; ответ не отправлен на {to} письмом: {why}",
    "The visitor has left: the answer went to {to} by e-mail ({channel})":
        "Посетитель ушёл со страницы: ответ отправлен на {to} письмом ({channel})",
    "Unfold": "Развернуть",
    "Show an e-mail's folded quoted history and signature (again: fold them)":
        "Показать свёрнутую цитату и подпись письма (ещё раз — свернуть)",
    "Nothing is folded away in this message.": "В этом сообщении ничего не свёрнуто.",
    "{key} folds the quoted history and signature again":
        "{key} снова сворачивает цитату и подпись",
    "… quoted history or signature folded away — {key} shows them":
        "… цитата или подпись свёрнуты — {key} покажет их",
    "came by e-mail from {address} ({channel})": "пришло письмом с {address} ({channel})",
    "answer {message} to go by e-mail to {to} (the visitor left)":
        "ответ {message} отправить письмом на {to} (посетитель ушёл)",
    "sent by e-mail to {to}: {mail_id}": "отправлено письмом на {to}: {mail_id}",
    "The answer sent by e-mail did not arrive: {why}":
        "Ответ, отправленный письмом, не дошёл: {why}",
    # --- HTTP API ---
    "api.listen must be host:port, e.g. \"127.0.0.1:8790\", not {value}":
        "api.listen должен быть вида хост:порт, например \"127.0.0.1:8790\", а не {value}",
    "api.cors must list origins such as \"https://crm.example.com\" (or \"*\"), not {value}":
        "в api.cors перечисляются источники вроде \"https://crm.example.com\" (или \"*\"), "
            "а не {value}",
    "the HTTP API's tokens": "токены HTTP API",
    "make, list and revoke tokens": "создать, показать и отозвать токены",
    "make a token and show it, once": "создать токен и показать его (один раз)",
    "what the token is for (letters, digits, . _ -); its writes are recorded as the operator "
        "api:NAME":
        "для чего токен (буквы, цифры, . _ -); его изменения записываются от имени оператора "
            "api:ИМЯ",
    "the token may read but not change anything": "токен может читать, но ничего не меняет",
    "the tokens, without their secrets": "токены, без их секретов",
    "stop a token from working, at once": "сразу же отключить токен",
    "the token's name": "имя токена",
    "a token's name is 1 to 40 letters, digits, dots, dashes or underscores, not {name}":
        "имя токена — от 1 до 40 букв, цифр, точек, дефисов или подчёркиваний, а не {name}",
    "there is a token {name} already: revoke it first, or choose another name":
        "токен {name} уже есть: сначала отзовите его или выберите другое имя",
    "This is the only time the token is shown: keep it where the program that uses it can "
        "read it.":
        "Токен показывается только сейчас: сохраните его там, где его прочтёт программа, "
            "которая им пользуется.",
    "The HTTP API is off: add [api] listen = \"127.0.0.1:8790\" to {path}":
        "HTTP API выключен: добавьте [api] listen = \"127.0.0.1:8790\" в {path}",
    "no tokens: opchat api token add NAME": "токенов нет: opchat api token add ИМЯ",
    "read-only": "только чтение",
    "read-write": "чтение и запись",
    "revoked {when}": "отозван {when}",
    "in force": "действует",
    "made {when}, last used {used}": "создан {when}, использован {used}",
    "no token {name} in force": "действующего токена {name} нет",
    "token {name} revoked": "токен {name} отозван",
    "where operators' replies are POSTed (your system)":
        "куда отправляются (POST) ответы операторов (ваша система)",
    "the key replies are signed with (HMAC-SHA256)":
        "ключ, которым подписываются ответы (HMAC-SHA256)",
    # --- THE SLA VIEW AND THE STATS ROLL-UP ---
    "Nobody is near a target": "Никто не близок к сроку",
    "Next view: Mine, Unassigned, All, Waiting, and SLA with targets set":
        "Следующий вид: Мои, Свободные, Все, Ждут, а при заданных сроках и SLA",
    "recompute the figures, and their per-day roll-up, from the events log first":
        "сначала пересчитать показатели и их сводку по дням по журналу событий",
    "A period of 8 whole days or more, with over 5,000 durations, reads its whole days "
        "from a per-day roll-up: counts and means are exact; medians and P90s come from "
        "log-spaced buckets, within 9% of the exact value.":
        "Период от 8 полных дней, в котором больше 5000 длительностей, читает полные дни "
            "из сводки по дням: количества и средние точные, медианы и P90 берутся из "
            "логарифмических интервалов и отличаются от точных не больше чем на 9%.",
    # --- e-mail: where copies of replies go (channel test) ---
    "copies of replies: off (sent_folder is empty)":
        "копии ответов: не сохраняются (sent_folder пуст)",
    "copies of replies go to {folder}": "копии ответов сохраняются в {folder}",
    "the mailbox has no folder marked Sent: replies are not copied (set sent_folder to "
    "name one)":
        "в ящике нет папки с отметкой «Отправленные»: копии ответов не сохраняются "
            "(укажите её в sent_folder)",
    # --- FILES EVERY MACHINE CAN OPEN (PostgreSQL) ---
    "the hub saved it where this machine cannot read it":
        "хаб сохранил его там, где с этой машины его не прочитать",
    "files: {done} of {total} ({share}%)": "файлы: {done} из {total} ({share}%)",
    "files in the database for every machine: {files}":
        "файлов в базе, доступных на всех машинах: {files}",
    "files not found on this machine (they stay where they are): {count}":
        "файлов нет на этой машине (остаются там, где были): {count}",
    "files larger than {limit} MB, left on this machine only: {count}":
        "файлов больше {limit} МБ, оставленных только на этой машине: {count}",
    "{count} kept in the database: every machine can open them":
        "в базе: {count}, открываются на любой машине",
    "{kept} kept in the database; {local} saved on one machine only ({large} of them "
    "larger than {limit} MB): operators and hubs on other machines cannot open or send "
    "those":
        "в базе: {kept}; только на одной машине: {local} (из них больше {limit} МБ: "
            "{large}), операторы и хабы на других машинах не могут их открыть или отправить",
    "files": "файлы",
    # --- db migrate-to: a database that is not empty ---
    "not copied: the database already holds a store ({table} has rows); copy into an empty "
    "database":
        "не скопировано: в базе уже есть хранилище (в {table} есть строки); копируйте в "
            "пустую базу",
    # --- audit: what a channel told anew of a contact ---
    "contact #{contact}: {fields} from the channel": "контакт #{contact}: {fields} из канала",
})
