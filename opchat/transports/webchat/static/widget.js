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

  function load() {
    try { return JSON.parse(localStorage.getItem(KEY) || "{}") || {}; } catch (e) { return {}; }
  }
  function save() {
    try { localStorage.setItem(KEY, JSON.stringify({ token: saved.token, pending: pendingList() })); } catch (e) { /* private mode */ }
  }
  var saved = load();
  var cfg = { title: "Chat", subtitle: "", greeting: "", placeholder: "", color: "", max_len: 4000 };
  var ws = null, ready = false, retries = 0, lastId = 0, isOpen = false, unread = 0;
  var byId = {};          // message id -> row element
  var pending = {};       // cid -> {cid, text, row}
  var toReceive = [], toSee = [], typingTimer = null, lastTyping = 0;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = String(text);
    return e;
  }
  function pendingList() {
    return Object.keys(pending).map(function (k) { return { cid: pending[k].cid, text: pending[k].text }; });
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

  // The page ------------------------------------------------------------------------------
  var css = el("link");
  css.rel = "stylesheet";
  css.href = base + "/widget.css";
  document.head.appendChild(css);

  var root = el("div", "opchat");
  var launcher = el("button", "opchat-launcher");
  launcher.type = "button";
  launcher.setAttribute("aria-label", "Open chat");
  // A speech bubble drawn as SVG: no emoji font needed.
  var SVG = "http://www.w3.org/2000/svg";
  var icon = document.createElementNS(SVG, "svg");
  icon.setAttribute("viewBox", "0 0 24 24");
  icon.setAttribute("class", "opchat-launcher-icon");
  icon.setAttribute("aria-hidden", "true");
  var bubble = document.createElementNS(SVG, "path");
  bubble.setAttribute("d", "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z");
  bubble.setAttribute("fill", "currentColor");
  icon.appendChild(bubble);
  launcher.appendChild(icon);
  var badge = el("span", "opchat-badge");
  badge.hidden = true;
  launcher.appendChild(badge);

  var panel = el("div", "opchat-panel");
  panel.hidden = true;
  panel.setAttribute("role", "dialog");
  var header = el("div", "opchat-header");
  var titles = el("div", "opchat-titles");
  var title = el("div", "opchat-title", cfg.title);
  var subtitle = el("div", "opchat-subtitle");
  titles.appendChild(title);
  titles.appendChild(subtitle);
  var close = el("button", "opchat-close", "\u00D7");
  close.type = "button";
  close.setAttribute("aria-label", "Close chat");
  header.appendChild(titles);
  header.appendChild(close);

  var list = el("div", "opchat-messages");
  list.setAttribute("role", "log");
  list.setAttribute("aria-live", "polite");
  var greeting = el("div", "opchat-row opchat-operator opchat-greeting");
  greeting.hidden = true;
  list.appendChild(greeting);
  var typing = el("div", "opchat-typing", "\u2026");
  typing.hidden = true;

  var form = el("form", "opchat-form");
  var input = el("textarea", "opchat-input");
  input.rows = 1;
  input.setAttribute("aria-label", "Message");
  var sendButton = el("button", "opchat-send", "\u27A4");
  sendButton.type = "submit";
  sendButton.setAttribute("aria-label", "Send");
  form.appendChild(input);
  form.appendChild(sendButton);

  panel.appendChild(header);
  panel.appendChild(list);
  panel.appendChild(typing);
  panel.appendChild(form);
  root.appendChild(panel);
  root.appendChild(launcher);
  (document.body || document.documentElement).appendChild(root);

  function applyConfig() {
    title.textContent = cfg.title || "Chat";
    subtitle.textContent = ready ? (cfg.subtitle || "") : "Connecting\u2026";
    input.placeholder = cfg.placeholder || "";
    input.maxLength = cfg.max_len || 4000;
    greeting.textContent = cfg.greeting || "";
    greeting.hidden = !cfg.greeting;
    if (cfg.color && /^#[0-9a-fA-F]{3,8}$/.test(cfg.color)) root.style.setProperty("--opchat-color", cfg.color);
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
      input.focus();
      flushSeen();
    }
  }
  function showBadge() {
    badge.textContent = unread > 9 ? "9+" : String(unread);
    badge.hidden = unread === 0;
  }
  launcher.addEventListener("click", function () { setOpen(!isOpen); });
  close.addEventListener("click", function () { setOpen(false); });

  // Messages ------------------------------------------------------------------------------
  function row(from, text, at) {
    var r = el("div", "opchat-row opchat-" + from);
    r.appendChild(el("div", "opchat-bubble", text));
    var meta = el("div", "opchat-meta");
    meta.appendChild(el("span", "opchat-time", time(at)));
    var mark = el("span", "opchat-mark");
    meta.appendChild(mark);
    r.appendChild(meta);
    return r;
  }
  function setMark(r, state) {
    var mark = r.querySelector(".opchat-mark");
    var marks = { pending: "\u25F7", sent: "\u2713", received: "\u2713", delivered: "\u2713\u2713", read: "\u2713\u2713", failed: "!" };
    mark.textContent = marks[state] || "";
    mark.title = state;
    r.setAttribute("data-state", state);
  }
  function append(r) {
    var atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    list.appendChild(r);
    if (atBottom || isOpen) list.scrollTop = list.scrollHeight;
  }
  function add(m) {
    if (!m || typeof m.id !== "number" || byId[m.id]) return;
    lastId = Math.max(lastId, m.id);
    var mine = m.from === "visitor";
    var waiting = mine && m.cid && pending[m.cid];
    var r;
    if (waiting) {
      r = waiting.row;
      delete pending[m.cid];
      save();
    } else {
      r = row(mine ? "visitor" : "operator", m.text, m.at);
      append(r);
    }
    r.setAttribute("data-id", String(m.id));
    byId[m.id] = r;
    if (mine) setMark(r, "sent");
    else if (m.state !== "read") {  // read: seen on an earlier visit
      typing.hidden = true;
      if (m.state !== "delivered") toReceive.push(m.id);
      toSee.push(m.id);
      if (!isOpen) { unread += 1; showBadge(); }
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

  function submit(text, cid) {
    var item = { cid: cid || newCid(), text: text, row: row("visitor", text) };
    setMark(item.row, "pending");
    pending[item.cid] = item;
    append(item.row);
    save();
    if (ready) send({ type: "message", cid: item.cid, text: item.text });
  }
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = input.value;
    if (!text.trim()) return;
    input.value = "";
    submit(text);
  });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      if (form.requestSubmit) form.requestSubmit(); else sendButton.click();
    }
  });
  input.addEventListener("input", function () {
    var now = Date.now();
    if (ready && now - lastTyping > 2000) {
      lastTyping = now;
      send({ type: "typing", active: true });
    }
  });

  // The socket ----------------------------------------------------------------------------
  function send(frame) {
    if (ws && ws.readyState === 1) ws.send(JSON.stringify(frame));
  }
  function connect() {
    ready = false;
    applyConfig();
    try { ws = new WebSocket(wsUrl); } catch (e) { return later(); }
    ws.onopen = function () {
      send({
        type: "hello", token: saved.token || null, last_id: lastId,
        page: { url: location.href, title: document.title, referrer: document.referrer },
        language: navigator.language || ""
      });
    };
    ws.onmessage = function (event) {
      var f;
      try { f = JSON.parse(event.data); } catch (e) { return; }
      if (f && typeof f.type === "string") handle(f);
    };
    ws.onclose = function () { ws = null; ready = false; applyConfig(); later(); };
  }
  function later() {
    var wait = Math.min(30000, 500 * Math.pow(2, retries++)) * (0.8 + Math.random() * 0.4);
    setTimeout(connect, wait);
  }
  function handle(f) {
    var i, item;
    if (f.type === "welcome") {
      retries = 0;
      ready = true;
      saved.token = f.token;
      if (f.config) for (var k in f.config) if (Object.prototype.hasOwnProperty.call(f.config, k)) cfg[k] = f.config[k];
      applyConfig();
      save();
    } else if (f.type === "history") {
      for (i = 0; i < (f.messages || []).length; i++) add(f.messages[i]);
      // Whatever is still unacknowledged goes again: the server stores it once.
      for (var cid in pending) if (Object.prototype.hasOwnProperty.call(pending, cid)) {
        send({ type: "message", cid: cid, text: pending[cid].text });
      }
      flushReceived();
      flushSeen();
    } else if (f.type === "message") {
      add(f.message);
      flushReceived();
      flushSeen();
    } else if (f.type === "ack") {
      item = pending[f.cid];
      if (item && !byId[f.id]) add({ id: f.id, from: "visitor", cid: f.cid, text: item.text });
    } else if (f.type === "typing") {
      typing.hidden = !f.active;
      clearTimeout(typingTimer);
      if (f.active) typingTimer = setTimeout(function () { typing.hidden = true; }, 6000);
    } else if (f.type === "state") {
      if (byId[f.id]) setMark(byId[f.id], f.state);
    } else if (f.type === "error") {
      if (f.code === "bad_token") {
        saved.token = null;
        save();
        if (ws) ws.close();
      } else if (f.cid && pending[f.cid]) {
        item = pending[f.cid];
        if (f.code === "rate_limited") {
          setTimeout(function () { if (pending[item.cid]) send({ type: "message", cid: item.cid, text: item.text }); },
            (f.retry_after || 2) * 1000);
        } else {
          setMark(item.row, "failed");
          item.row.title = f.detail || f.code;
          delete pending[f.cid];
          save();
        }
      }
    }
  }

  applyConfig();
  (saved.pending || []).forEach(function (p) {
    if (p && typeof p.cid === "string" && typeof p.text === "string") submit(p.text, p.cid);
  });
  connect();
  if (/[#&]opchat-open\b/.test(location.hash)) setOpen(true);
})();
