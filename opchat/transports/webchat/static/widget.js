/* opchat web chat widget. Plain JavaScript, no build step, no framework.
   Paste <script src="https://YOUR-HUB/widget.js" async></script> into a page.
   Every text from the network is set with textContent, never parsed as HTML.
   Protocol: docs/WEBCHAT.md in opchat. */
(function () {
  "use strict";
  var me = document.currentScript;
  if (!me || window.__opchatWidget) return;
  window.__opchatWidget = true;
  var base = me.src.replace(/\/widget\.js([?#].*)?$/, "");
  var wsUrl = base.replace(/^http/, "ws") + "/ws";
  var KEY = "opchat:" + base;

  // Words ---------------------------------------------------------------------------------
  // Every string a visitor reads, in each language the widget speaks. The channel's
  // config may override any of them per language (texts.LANG.KEY, docs/WEBCHAT.md); the
  // hub checks the keys against opchat/transports/webchat's TEXT_KEYS.
  var WORDS = {
    en: {
      title: "Chat with us", subtitle: "We answer here",
      usually_minute: "We usually answer within a minute",
      usually_minutes: "We usually answer within {n} min", usually_hours: "We usually answer within {n} h",
      offline_subtitle: "We are offline now", greeting: "Hello! How can we help?",
      placeholder: "Type a message\u2026",
      open: "Open chat", unread: "{n} unread", close: "Close chat", message: "Message", send: "Send",
      connecting: "Connecting\u2026", cannot_connect: "Cannot connect to the chat",
      not_sent: "Cannot connect to the chat: your message is not sent and stays here. We keep trying.",
      parts: "Your message was long: it went in {n} parts.",
      too_long: "At most {max} characters, and this is {n}.",
      typing: "{name} is typing\u2026", operator: "Operator",
      offline: "Operators are offline \u2014 leave your contact and we will answer",
      opens: "We are back {when}", name: "Your name", email: "Email", phone: "Phone",
      either: "Email or phone, so we can answer", thanks: "Thank you! We will answer you soon.",
      bad_email: "This does not look like an email address",
      bad_phone: "This does not look like a phone number", need_phone: "A phone number is needed",
      failed: "Not sent: the chat could not take it now. Try again shortly.",
      callback: "Call me back", when: "When is it convenient?", when_hint: "e.g. after 18:00",
      call: "Call me", cancel: "Cancel", called: "Thank you! We will call you back.",
      times: ["as soon as possible", "in the morning", "in the afternoon", "in the evening"],
      offline_send: "Send", state_pending: "Sending", state_sent: "Sent",
      state_delivered: "Delivered", state_read: "Read", state_failed: "Not sent"
    },
    ru: {
      title: "Напишите нам", subtitle: "Ответим здесь",
      usually_minute: "Обычно отвечаем в течение минуты",
      usually_minutes: "Обычно отвечаем за {n} мин", usually_hours: "Обычно отвечаем за {n} ч",
      offline_subtitle: "Сейчас мы не в сети", greeting: "Здравствуйте! Чем можем помочь?",
      placeholder: "Напишите сообщение\u2026",
      open: "Открыть чат", unread: "непрочитанных: {n}", close: "Закрыть чат", message: "Сообщение",
      send: "Отправить", connecting: "Подключение\u2026",
      cannot_connect: "Не удаётся подключиться к чату",
      not_sent: "Не удаётся подключиться к чату: сообщение не отправлено и осталось в поле. Пробуем снова.",
      parts: "Сообщение было длинным: оно ушло частями ({n}).",
      too_long: "Не больше {max} символов, а здесь {n}.",
      typing: "{name} печатает\u2026", operator: "Оператор",
      offline: "Операторы не в сети \u2014 оставьте контакты, и мы ответим",
      opens: "Вернёмся {when}", name: "Ваше имя", email: "Эл. почта", phone: "Телефон",
      either: "Почта или телефон, чтобы мы могли ответить", thanks: "Спасибо! Мы скоро ответим.",
      bad_email: "Это не похоже на адрес эл. почты",
      bad_phone: "Это не похоже на номер телефона", need_phone: "Нужен номер телефона",
      failed: "Не отправлено: чат сейчас не смог принять сообщение. Попробуйте чуть позже.",
      callback: "Перезвоните мне", when: "Когда удобно?", when_hint: "например, после 18:00",
      call: "Жду звонка", cancel: "Отмена", called: "Спасибо! Мы вам перезвоним.",
      times: ["как можно скорее", "утром", "днём", "вечером"], offline_send: "Отправить",
      state_pending: "Отправляется", state_sent: "Отправлено", state_delivered: "Доставлено",
      state_read: "Прочитано", state_failed: "Не отправлено"
    }
  };
  // The first of the browser's languages that the widget speaks, else English.
  var langTag = "", lang = "en";
  (function () {
    var tags = (navigator.languages && navigator.languages.length) ? navigator.languages : [navigator.language || "en"];
    for (var i = 0; i < tags.length; i++) {
      var p = String(tags[i]).slice(0, 2).toLowerCase();
      if (WORDS[p]) { lang = p; langTag = String(tags[i]); return; }
    }
    langTag = String(tags[0] || "");
  })();
  var W = {};
  function setWords(overrides) {
    var k, base = WORDS[lang];
    for (k in base) if (Object.prototype.hasOwnProperty.call(base, k)) W[k] = base[k];
    for (k in overrides || {}) {
      if (Object.prototype.hasOwnProperty.call(base, k) && typeof overrides[k] === typeof base[k]) W[k] = overrides[k];
    }
  }
  setWords(null);
  function say(key, values) {
    return String(W[key]).replace(/\{(\w+)\}/g, function (m, name) {
      return values && Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : m;
    });
  }
  // Characters as the hub counts them (code points), never half an emoji.
  function chars(text) { return Array.from(text); }

  function load() {
    try { return JSON.parse(localStorage.getItem(KEY) || "{}") || {}; } catch (e) { return {}; }
  }
  function save() {
    try {
      localStorage.setItem(KEY, JSON.stringify({ token: saved.token, name: saved.name, pending: pendingList() }));
    } catch (e) { /* private mode */ }
  }
  var saved = load();
  var cfg = { greeting: "", color: "", max_len: 4000, max_draft: 1000, texts: {} };
  var ws = null, ready = false, retries = 0, lastId = 0, isOpen = false, unread = 0;
  var failing = false;    // the last attempt to connect failed: the hub cannot be reached
  var status = null, readUpTo = 0, calling = false;
  var byId = {};          // message id -> row element
  var mine = [];          // [id, row] of the visitor's own messages, for read marks
  var pending = {};       // cid -> {cid, text, row}
  var forms = {};         // cid -> {frame, done, fail}: a form sent, not yet acknowledged
  var toReceive = [], toSee = [], typingTimer = null;
  var typingOn = false, typingSent = 0, typingTrail = null, typingPause = null;

  function el(tag, cls, text, parent) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = String(text);
    if (parent) parent.appendChild(e);
    return e;
  }
  function button(cls, text, label, parent) {
    var b = el("button", cls, text, parent);
    b.type = "button";
    if (label) b.setAttribute("aria-label", label);
    return b;
  }
  var labels = [];        // [element, key]: set again when the words change
  function field(form, cls, key, type, name) {
    var l = el("label", "opchat-field", null, form);
    labels.push([el("span", null, null, l), key]);
    var i = el(type === "textarea" ? "textarea" : "input", cls, null, l);
    if (type !== "textarea") i.type = type;
    i.name = name;
    return i;
  }
  function pendingList() {
    return Object.keys(pending).map(function (k) {
      return { cid: pending[k].cid, text: pending[k].text, choice: pending[k].choice || null };
    });
  }
  function newCid() {
    var a = new Uint8Array(9);
    (window.crypto || window.msCrypto).getRandomValues(a);
    return Array.prototype.map.call(a, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  function time(at) {
    var d = at ? new Date(at * 1000) : new Date();
    return ("0" + d.getHours()).slice(-2) + ":" + ("0" + d.getMinutes()).slice(-2);
  }
  function safeUrl(u) {  // a photo: http(s) only, relative to the hub
    if (typeof u !== "string" || !u) return "";
    try { var x = new URL(u, base + "/"); return /^https?:$/.test(x.protocol) ? x.href : ""; } catch (e) { return ""; }
  }

  // The page ------------------------------------------------------------------------------
  var css = el("link");
  css.rel = "stylesheet";
  css.href = base + "/widget.css";
  document.head.appendChild(css);

  var root = el("div", "opchat");
  var SVG = "http://www.w3.org/2000/svg";
  function icon(d, cls) {  // drawn as SVG: no emoji font needed
    var s = document.createElementNS(SVG, "svg");
    s.setAttribute("viewBox", "0 0 24 24");
    s.setAttribute("class", cls);
    s.setAttribute("aria-hidden", "true");
    var p = document.createElementNS(SVG, "path");
    p.setAttribute("d", d);
    p.setAttribute("fill", "currentColor");
    s.appendChild(p);
    return s;
  }
  // The launcher comes first in the document, so Tab goes from it into the panel it
  // opens; the stylesheet draws the panel above it.
  var launcher = button("opchat-launcher", null, null, root);
  launcher.setAttribute("aria-expanded", "false");
  launcher.appendChild(icon("M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z", "opchat-launcher-icon"));
  var badge = el("span", "opchat-badge", null, launcher);
  badge.hidden = true;
  badge.setAttribute("aria-hidden", "true");  // the launcher's label says it

  var panel = el("div", "opchat-panel", null, root);
  panel.id = "opchat-panel-" + newCid();
  launcher.setAttribute("aria-controls", panel.id);
  panel.hidden = true;
  panel.setAttribute("role", "dialog");
  var header = el("div", "opchat-header", null, panel);
  var photo = el("img", "opchat-photo", null, header);
  photo.alt = "";
  photo.hidden = true;
  var titles = el("div", "opchat-titles", null, header);
  var title = el("div", "opchat-title", null, titles);
  title.id = panel.id + "-title";
  panel.setAttribute("aria-labelledby", title.id);
  var agent = el("div", "opchat-agent", null, titles);
  var subtitle = el("div", "opchat-subtitle", null, titles);
  var callOpen = button("opchat-icon opchat-callback-open", null, null, header);
  callOpen.appendChild(icon("M6.6 10.8a15 15 0 0 0 6.6 6.6l2.2-2.2a1 1 0 0 1 1-.25 11.4 11.4 0 0 0 3.6.57 1 1 0 0 1 1 1V20a1 1 0 0 1-1 1A17 17 0 0 1 3 4a1 1 0 0 1 1-1h3.5a1 1 0 0 1 1 1c0 1.25.2 2.45.57 3.57a1 1 0 0 1-.25 1z", "opchat-icon-svg"));
  var close = button("opchat-icon opchat-close", "\u00D7", null, header);

  var list = el("div", "opchat-messages", null, panel);
  list.setAttribute("role", "log");
  list.setAttribute("aria-live", "polite");
  list.tabIndex = 0;  // scrollable with the keyboard
  var greeting = el("div", "opchat-row opchat-operator opchat-greeting", null, list);
  greeting.hidden = true;
  var typing = el("div", "opchat-typing", null, panel);
  typing.hidden = true;
  typing.setAttribute("aria-live", "polite");
  // Why the hub cannot be reached and what became of the visitor's words.
  var alertLine = el("p", "opchat-alert", null, panel);
  alertLine.setAttribute("role", "alert");

  // The composer.
  var form = el("form", "opchat-form", null, panel);
  var input = el("textarea", "opchat-input", null, form);
  input.rows = 1;
  var sendButton = el("button", "opchat-send", "\u27A4", form);
  sendButton.type = "submit";

  // "Operators are offline": leave a contact and a message.
  var offline = el("form", "opchat-offline opchat-sheet", null, panel);
  offline.hidden = true;
  var offNotice = el("p", "opchat-notice", null, offline);
  var opens = el("p", "opchat-opens", null, offline);
  var offName = field(offline, "opchat-in", "name", "text", "name");
  var offEmail = field(offline, "opchat-in", "email", "email", "email");
  var offPhone = field(offline, "opchat-in", "phone", "tel", "phone");
  var offText = field(offline, "opchat-in", "message", "textarea", "text");
  offText.rows = 2;
  var offError = el("p", "opchat-error", null, offline);
  offError.setAttribute("role", "alert");
  var offSend = el("button", "opchat-submit", null, offline);
  offSend.type = "submit";
  var offDone = el("p", "opchat-done", null, offline);
  offDone.setAttribute("role", "status");

  // "Call me back": a phone and a time.
  var callback = el("form", "opchat-callback opchat-sheet", null, panel);
  callback.hidden = true;
  var cbNotice = el("p", "opchat-notice", null, callback);
  var cbPhone = field(callback, "opchat-in", "phone", "tel", "phone");
  cbPhone.required = true;
  var cbWhen = field(callback, "opchat-in", "when", "text", "when");
  var times = el("datalist", null, null, callback);
  times.id = "opchat-times-" + newCid();
  cbWhen.setAttribute("list", times.id);
  var cbError = el("p", "opchat-error", null, callback);
  cbError.setAttribute("role", "alert");
  var cbButtons = el("div", "opchat-buttons", null, callback);
  var cbCancel = button("opchat-cancel", null, null, cbButtons);
  var cbSend = el("button", "opchat-submit", null, cbButtons);
  cbSend.type = "submit";

  (document.body || document.documentElement).appendChild(root);

  // Every fixed word on the widget, from W (the visitor's language, with the config's).
  function applyTexts() {
    showBadge();
    callOpen.title = W.callback;
    callOpen.setAttribute("aria-label", W.callback);
    close.setAttribute("aria-label", W.close);
    input.setAttribute("aria-label", W.message);
    input.placeholder = W.placeholder;
    sendButton.setAttribute("aria-label", W.send);
    offNotice.textContent = W.offline;
    offSend.textContent = W.offline_send;
    cbNotice.textContent = W.callback;
    cbWhen.placeholder = W.when_hint;
    cbCancel.textContent = W.cancel;
    cbSend.textContent = W.call;
    labels.forEach(function (l) { l[0].textContent = W[l[1]]; });
    times.textContent = "";
    (W.times || []).forEach(function (t) { el("option", null, null, times).value = t; });
  }

  function applyConfig() {
    setWords(cfg.texts);
    applyTexts();
    title.textContent = W.title;
    agent.textContent = cfg.operator_name || "";
    agent.hidden = !cfg.operator_name;
    var src = safeUrl(cfg.operator_photo);
    if (src && photo.src !== src) photo.src = src;
    photo.hidden = !src;
    photo.alt = cfg.operator_name || "";
    callOpen.hidden = cfg.callback === false;
    greeting.textContent = cfg.greeting || W.greeting;
    greeting.hidden = !greeting.textContent;
    if (cfg.color && /^#[0-9a-fA-F]{3,8}$/.test(cfg.color)) root.style.setProperty("--opchat-color", cfg.color);
    applyStatus();
  }
  // One of three sheets at the bottom: the composer, the offline form, "call me back".
  function applyStatus() {
    var away = !!(ready && status && cfg.offline_form !== false && !(status.open && status.online));
    callback.hidden = !calling;
    offline.hidden = calling || !away;
    form.hidden = calling || away;
    opens.textContent = "";
    var when = "";
    if (ready && status && !status.open && status.next_open) {
      when = say("opens", { when: new Date(status.next_open * 1000).toLocaleString(langTag || undefined,
        { weekday: "short", hour: "2-digit", minute: "2-digit" }) });
    }
    if (away) opens.textContent = when;
    subtitle.textContent = !ready ? (failing ? W.cannot_connect : W.connecting)
      : (status && !(status.open && status.online)) ? (when || W.offline_subtitle) : usually();
    if (ready) alertLine.textContent = "";
  }
  // How soon people are answered, as the hub measured it (the last week's median
  // first response in working hours); a subtitle the site set itself wins, and no
  // figure means no claim.
  function usually() {
    var own = cfg.texts && cfg.texts.subtitle;
    var t = status && status.typical;
    if (own || typeof t !== "number" || !(t >= 0)) return W.subtitle;
    if (t <= 60) return W.usually_minute;
    if (t < 3600) return say("usually_minutes", { n: Math.ceil(t / 60) });
    return say("usually_hours", { n: Math.ceil(t / 3600) });
  }
  function focusSheet() {
    var target = calling ? cbPhone : !offline.hidden ? (offName.value ? offText : offName) : input;
    target.focus();
  }

  function setOpen(open) {
    isOpen = open;
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", open ? "true" : "false");
    root.classList.toggle("opchat-open", open);
    if (open) {
      unread = 0;
      showBadge();
      list.scrollTop = list.scrollHeight;
      focusSheet();
      flushSeen();
    } else {
      launcher.focus();
    }
  }
  function showBadge() {
    badge.textContent = unread > 9 ? "9+" : String(unread);
    badge.hidden = unread === 0;
    launcher.setAttribute("aria-label", unread ? W.open + ", " + say("unread", { n: unread }) : W.open);
  }
  function setCalling(on) {
    calling = on;
    cbError.textContent = "";
    applyStatus();
    if (on) cbPhone.focus(); else focusSheet();
  }
  launcher.addEventListener("click", function () { setOpen(!isOpen); });
  close.addEventListener("click", function () { setOpen(false); });
  callOpen.addEventListener("click", function () { setCalling(!calling); });
  cbCancel.addEventListener("click", function () { setCalling(false); });
  panel.addEventListener("keydown", function (e) {
    if (e.key !== "Escape") return;
    e.preventDefault();
    if (calling) setCalling(false); else setOpen(false);
  });

  // Messages ------------------------------------------------------------------------------
  function row(from, text, at) {
    var r = el("div", "opchat-row opchat-" + from);
    el("div", "opchat-bubble", text, r);
    var meta = el("div", "opchat-meta", null, r);
    el("span", "opchat-time", time(at), meta);
    el("span", "opchat-mark", null, meta);
    return r;
  }
  function setMark(r, state) {
    var mark = r.querySelector(".opchat-mark");
    var marks = { pending: "\u25F7", sent: "\u2713", received: "\u2713", delivered: "\u2713\u2713", read: "\u2713\u2713", failed: "!" };
    mark.textContent = marks[state] || "";
    mark.title = W["state_" + state] || W.state_sent;
    r.setAttribute("data-state", state);
  }
  function append(r) {
    var atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    list.appendChild(r);
    if (atBottom || isOpen) list.scrollTop = list.scrollHeight;
  }
  function note(text) {  // a line from the widget itself, not stored
    append(el("div", "opchat-row opchat-system", text));
  }
  function markRead(upTo) {
    readUpTo = Math.max(readUpTo, upTo || 0);
    mine.forEach(function (m) { if (m[0] <= readUpTo) setMark(m[1], "read"); });
  }
  function add(m) {
    if (!m || typeof m.id !== "number" || byId[m.id]) return;
    lastId = Math.max(lastId, m.id);
    var isMine = m.from === "visitor";
    var waiting = isMine && m.cid && pending[m.cid];
    var r;
    if (waiting) {
      r = waiting.row;
      delete pending[m.cid];
      save();
    } else {
      r = row(isMine ? "visitor" : "operator", m.text, m.at);
      if (isMine) dropChoices();
      else if (Array.isArray(m.buttons) && m.buttons.length) choices(r, m.buttons);
      append(r);
    }
    r.setAttribute("data-id", String(m.id));
    byId[m.id] = r;
    if (isMine) {
      mine.push([m.id, r]);
      setMark(r, m.id <= readUpTo ? "read" : "sent");
    } else {
      hideTyping();
      if (m.state !== "read") {  // read: seen on an earlier visit
        if (m.state !== "delivered") toReceive.push(m.id);
        toSee.push(m.id);
        if (!isOpen) { unread += 1; showBadge(); }
      }
    }
  }
  function flushReceived() {
    if (ready && toReceive.length) { send({ type: "received", ids: toReceive.splice(0, 100) }); }
  }
  function flushSeen() {
    if (ready && isOpen && document.visibilityState !== "hidden" && toSee.length) {
      send({ type: "seen", ids: toSee.splice(0, 100) });
    }
  }
  document.addEventListener("visibilitychange", flushSeen);
  function hideTyping() {
    typing.hidden = true;
    clearTimeout(typingTimer);
  }

  // A message longer than the hub takes goes in parts, cut after a space or a line end
  // near the limit when there is one, and always between characters.
  function split(text, max) {
    var rest = chars(text), parts = [];
    while (rest.length > max) {
      var cut = max;
      for (var i = max - 1; i >= Math.floor(max * 0.8); i--) {
        if (/\s/.test(rest[i])) { cut = i + 1; break; }
      }
      parts.push(rest.slice(0, cut).join(""));
      rest = rest.slice(cut);
    }
    parts.push(rest.join(""));
    return parts;
  }
  // Not connected: nothing is shown as sent, the words stay in the field.
  function refuseOffline() {
    alertLine.textContent = failing ? W.not_sent : W.connecting;
    return false;
  }
  function frameOf(item) {
    var frame = { type: "message", cid: item.cid, text: item.text };
    if (item.choice) frame.choice = item.choice;
    return frame;
  }
  function submit(text, cid, choice) {
    var item = { cid: cid || newCid(), text: text, row: row("visitor", text), choice: choice || null };
    setMark(item.row, "pending");
    pending[item.cid] = item;
    dropChoices();  // the question is answered, by a button or in words
    append(item.row);
    save();
    if (ready) sendPaced(frameOf(item));
  }
  // Buttons under an operator's (or the bot's) message: a menu, "rate us 1-5". A press
  // sends the button's words as the visitor's message, with its payload.
  function choices(r, buttons) {
    var box = el("div", "opchat-choices", null, r);
    buttons.forEach(function (b) {
      if (!Array.isArray(b) || typeof b[0] !== "string" || typeof b[1] !== "string") return;
      var c = button("opchat-choice", b[0], null, box);
      c.addEventListener("click", function () {
        if (!ready) return refuseOffline();
        submit(b[0], null, b[1]);
      });
    });
  }
  function dropChoices() {
    Array.prototype.forEach.call(list.querySelectorAll(".opchat-choices"), function (box) {
      box.parentNode.removeChild(box);
    });
  }
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = input.value;
    if (!text.trim()) return;
    if (!ready) return refuseOffline();
    input.value = "";
    var parts = split(text, cfg.max_len || 4000);
    parts.forEach(function (part) { submit(part); });
    if (parts.length > 1) note(say("parts", { n: parts.length }));
    clearTimeout(typingPause);
    tellTyping(false);
  });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      if (form.requestSubmit) form.requestSubmit(); else sendButton.click();
    }
  });

  // Typing: at most one frame per 400 ms with the draft (sneak peek), or every 3 s
  // without; "stopped" when the field is emptied, a message is sent, or after 5 s idle.
  function tellTyping(active) {
    clearTimeout(typingTrail);
    typingTrail = null;
    if (!ready || (!active && !typingOn)) return;
    typingOn = active;
    typingSent = Date.now();
    var f = { type: "typing", active: active };
    if (active && cfg.sneak_peek) f.text = chars(input.value).slice(0, cfg.max_draft || 1000).join("");
    send(f);
  }
  input.addEventListener("input", function () {
    clearTimeout(typingPause);
    if (!input.value) return tellTyping(false);
    typingPause = setTimeout(function () { tellTyping(false); }, 5000);
    // The first key after a stop goes at once; then at most one frame per interval.
    var wait = typingOn ? typingSent + (cfg.sneak_peek ? 400 : 3000) - Date.now() : 0;
    if (wait <= 0) tellTyping(true);
    else if (!typingTrail && cfg.sneak_peek) typingTrail = setTimeout(function () { tellTyping(true); }, wait);
  });

  // Forms: sent with a client id like messages, resent after a reconnect until acknowledged.
  // The hub's refusal in the visitor's words (its own "detail" is English, for developers).
  function reason(f, text) {
    if (f.code === "bad_field" && f.field === "phone") return f.detail === "a phone number is needed" ? W.need_phone : W.bad_phone;
    if (f.code === "bad_field" && f.field === "email") return /email or a phone/.test(f.detail || "") ? W.either : W.bad_email;
    if (f.code === "too_long") return say("too_long", { max: cfg.max_len || 4000, n: chars(text || "").length });
    return W.failed;
  }
  function sendForm(frame, submitButton, errorLine, done) {
    errorLine.textContent = "";
    if (!ready) { errorLine.textContent = W.not_sent; return; }
    frame.cid = newCid();
    submitButton.disabled = true;
    forms[frame.cid] = {
      frame: frame,
      done: function (ack) { submitButton.disabled = false; done(ack); },
      fail: function (f) { submitButton.disabled = false; errorLine.textContent = reason(f, frame.text); }
    };
    if (ready) sendPaced(frame);
  }
  function formAcked(f) {
    var item = forms[f.cid];
    delete forms[f.cid];
    if (!byId[f.id]) add({ id: f.id, from: "visitor", cid: f.cid, text: f.text || item.frame.text });
    item.done(f);
  }
  offline.addEventListener("submit", function (e) {
    e.preventDefault();
    var name = offName.value.trim();
    if (!offEmail.value.trim() && !offPhone.value.trim()) { offError.textContent = W.either; offEmail.focus(); return; }
    if (!offText.value.trim()) { offText.focus(); return; }
    var length = chars(offText.value).length, max = cfg.max_len || 4000;
    if (length > max) { offError.textContent = say("too_long", { max: max, n: length }); offText.focus(); return; }
    offDone.textContent = "";
    sendForm({ type: "contact", name: name, email: offEmail.value.trim(), phone: offPhone.value.trim(),
      text: offText.value }, offSend, offError, function () {
      offText.value = "";
      offDone.textContent = W.thanks;
      if (name) { saved.name = name; save(); }
    });
  });
  callback.addEventListener("submit", function (e) {
    e.preventDefault();
    if (!cbPhone.value.trim()) { cbPhone.focus(); return; }
    sendForm({ type: "callback", phone: cbPhone.value.trim(), when: cbWhen.value.trim(), name: saved.name || "" },
      cbSend, cbError, function () {
        cbWhen.value = "";
        setCalling(false);
        note(W.called);
      });
  });

  // The socket ----------------------------------------------------------------------------
  function send(frame) {
    if (ws && ws.readyState === 1) ws.send(JSON.stringify(frame));
  }
  // Messages and forms go out no faster than the hub takes them from one visitor (8 at
  // once, then 1 a second): a reconnect with many unacknowledged messages, or many
  // retries after the hub's store failed, would otherwise be refused as too fast, and
  // refused often enough the socket is closed, again and again. One frame per cid.
  var queue = [], pacer = null, budget = 6, budgetAt = Date.now();
  function sendPaced(frame) {
    for (var i = 0; i < queue.length; i++) {
      if (queue[i].cid === frame.cid) { queue[i] = frame; return; }
    }
    queue.push(frame);
    pump();
  }
  function pump() {
    if (pacer || !queue.length || !ws || ws.readyState !== 1) return;
    var now = Date.now();
    budget = Math.min(6, budget + (now - budgetAt) / 1000 * 0.9);
    budgetAt = now;
    if (budget < 1) {
      pacer = setTimeout(function () { pacer = null; pump(); }, (1 - budget) / 0.9 * 1000);
      return;
    }
    budget -= 1;
    send(queue.shift());
    pump();
  }
  function connect() {
    ready = false;
    typingOn = false;
    applyConfig();
    var welcomed = false;
    try { ws = new WebSocket(wsUrl); } catch (e) { failing = true; applyStatus(); return later(); }
    ws.onopen = function () {
      send({
        type: "hello", token: saved.token || null, last_id: lastId, name: saved.name || null,
        page: { url: location.href, title: document.title, referrer: document.referrer },
        language: langTag
      });
    };
    ws.onmessage = function (event) {
      var f;
      try { f = JSON.parse(event.data); } catch (e) { return; }
      if (f && typeof f.type === "string") {
        if (f.type === "welcome") welcomed = true;
        handle(f);
      }
    };
    // Closed before the hub said welcome (refused: 403 for a site not in its origin
    // setting, or unreachable): the visitor is told, rather than "Connecting…" for ever.
    ws.onclose = function () {
      ws = null;
      ready = false;
      queue = [];  // a reconnect sends every unacknowledged message and form again
      clearTimeout(pacer);
      pacer = null;
      if (!welcomed) failing = true;
      hideTyping();
      applyConfig();
      later();
    };
  }
  function later() {
    var wait = Math.min(30000, 500 * Math.pow(2, retries++)) * (0.8 + Math.random() * 0.4);
    setTimeout(connect, wait);
  }
  function own(o, k) { return Object.prototype.hasOwnProperty.call(o, k); }
  function handle(f) {
    var i, item, k;
    if (f.type === "welcome") {
      retries = 0;
      ready = true;
      failing = false;
      saved.token = f.token;
      if (f.config) for (k in f.config) if (own(f.config, k)) cfg[k] = f.config[k];
      status = f.status || null;
      applyConfig();
      save();
    } else if (f.type === "history") {
      markRead(f.seen_up_to);
      for (i = 0; i < (f.messages || []).length; i++) add(f.messages[i]);
      // Whatever is still unacknowledged goes again: the server stores it once.
      for (k in pending) if (own(pending, k)) sendPaced(frameOf(pending[k]));
      for (k in forms) if (own(forms, k)) sendPaced(forms[k].frame);
      flushReceived();
      flushSeen();
    } else if (f.type === "message") {
      add(f.message);
      flushReceived();
      flushSeen();
    } else if (f.type === "ack") {
      if (forms[f.cid]) return formAcked(f);
      item = pending[f.cid];
      if (item && !byId[f.id]) add({ id: f.id, from: "visitor", cid: f.cid, text: item.text });
    } else if (f.type === "status") {
      status = f;
      applyStatus();
    } else if (f.type === "typing") {
      hideTyping();
      if (f.active) {
        typing.textContent = say("typing", { name: f.name || cfg.operator_name || W.operator });
        typing.hidden = false;
        typingTimer = setTimeout(hideTyping, 8000);  // renewed every few seconds while typing
      }
    } else if (f.type === "seen") {
      markRead(f.up_to);
    } else if (f.type === "state") {
      if (byId[f.id]) setMark(byId[f.id], f.state);
    } else if (f.type === "error") {
      if (f.code === "bad_token") {
        saved.token = null;
        save();
        if (ws) ws.close();
      } else if (f.cid && forms[f.cid]) {
        item = forms[f.cid];
        if (f.code === "rate_limited") {
          setTimeout(function () { if (forms[f.cid]) sendPaced(item.frame); }, (f.retry_after || 2) * 1000);
        } else {
          delete forms[f.cid];
          item.fail(f);
        }
      } else if (f.cid && pending[f.cid]) {
        item = pending[f.cid];
        if (f.code === "rate_limited" || f.code === "server_error") {
          // The hub could not take it now (too fast, or its store failed: a full disk):
          // the same cid again later, so it is stored once whenever it works again.
          item.tries = (item.tries || 0) + 1;
          var again = f.retry_after || Math.min(30, Math.pow(2, item.tries));
          setTimeout(function () { if (pending[item.cid]) sendPaced({ type: "message", cid: item.cid, text: item.text }); },
            again * 1000);
        } else {
          setMark(item.row, "failed");
          item.row.title = reason(f, item.text);
          delete pending[f.cid];
          save();
        }
      }
    }
  }

  applyConfig();
  (saved.pending || []).forEach(function (p) {
    if (p && typeof p.cid === "string" && typeof p.text === "string") {
      submit(p.text, p.cid, typeof p.choice === "string" ? p.choice : null);
    }
  });
  connect();
  if (/[#&]opchat-open\b/.test(location.hash)) setOpen(true);
})();
