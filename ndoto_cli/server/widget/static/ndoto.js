/*
 * Ndoto website chat. A site loads it with one tag (`ndoto inboxes embed INBOX` prints it):
 *   <script async src="https://chat.example.com/widget/ndoto.js" data-website-token="..."></script>
 *
 * Why it is built this way:
 * - Everything lives in a shadow root: the host page's styles cannot break the chat, and the
 *   chat's cannot leak into the page. Its stylesheet is a file of this server, never inline,
 *   and no string is ever parsed as HTML: messages become text nodes (links are built as
 *   elements), so nothing a message says can run. No eval, no inline script: it works under a
 *   strict content security policy.
 * - The visitor's token stays in localStorage under `ndoto:<website token>`: a reload or a new
 *   tab is the same visitor, the same conversation.
 * - Live updates come over one EventSource. The browser reconnects by itself and sends the last
 *   event id it saw; the server replays what was missed from the outbox. Every message is keyed
 *   by its id, so a replay, a refetch and the answer to a POST never show a message twice.
 * - The page API is `window.$ndoto` {open, close, toggle, setUser, reset}; the window gets
 *   `ndoto:ready`, `ndoto:opened`, `ndoto:closed` and `ndoto:message` events.
 */
(function () {
  "use strict";
  var script = document.currentScript || document.querySelector("script[data-website-token]");
  if (!script || (window.$ndoto && window.$ndoto.isNdoto)) return;
  var site = script.getAttribute("data-website-token") || "";
  var base = (script.getAttribute("data-base-url") || new URL(script.src, location.href).origin).replace(/\/+$/, "");
  var API = base + "/api/v1/widget";
  var KEY = "ndoto:" + site;
  var TYPING_TIMEOUT = 30000; // a typing indicator turns itself off, as Chatwoot's does
  var S = {}; // strings of the visitor's language
  var state = {
    token: load(), contact: null, conversation: null, settings: null, open: false, lastEventId: null,
    es: null, retry: 0, retryTimer: null, loaded: false, triggered: false, unread: 0,
    ids: new Map(), pending: [], typingOn: 0, typingIdle: null, theirTyping: null, visitorP: null
  };
  var ui = {};
  var readyResolve;
  var ready = new Promise(function (resolve) { readyResolve = resolve; });

  function load() { try { return localStorage.getItem(KEY); } catch (e) { return null; } }
  function save(token) {
    state.token = token;
    try { if (token) localStorage.setItem(KEY, token); else localStorage.removeItem(KEY); } catch (e) { /* private mode */ }
  }
  function t(key) { return S[key] || key; }
  function emit(name, detail) { window.dispatchEvent(new CustomEvent("ndoto:" + name, { detail: detail })); }

  function call(method, path, body) {
    var headers = {};
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (state.token) headers["X-Ndoto-Visitor"] = state.token;
    var url = API + path + (path.indexOf("?") < 0 ? "?" : "&") + "website_token=" + encodeURIComponent(site);
    return fetch(url, {
      method: method, headers: headers, mode: "cors", credentials: "omit",
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (res) {
      return res.json().catch(function () { return null; }).then(function (data) {
        if (res.ok) return data;
        var err = new Error((data && (data.error || data.message)) || "HTTP " + res.status);
        err.status = res.status;
        throw err;
      });
    });
  }

  // -- DOM, without ever parsing HTML --------------------------------------------------------

  function h(tag, attrs, children) {
    var el = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") el.textContent = attrs[k];
      else if (k === "class") el.className = attrs[k];
      else if (attrs[k] === true) el.setAttribute(k, "");
      else if (attrs[k] !== false && attrs[k] != null) el.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) el.appendChild(c); });
    return el;
  }

  function icon() {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    var path = document.createElementNS(ns, "path");
    path.setAttribute("d", "M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H8l-5 4V5a2 2 0 0 1 1-2z");
    svg.appendChild(path);
    return svg;
  }

  var LINK = /\bhttps?:\/\/[^\s<>"']+/g;

  /** Text with its links as anchors: text nodes and <a> elements, nothing else. */
  function richText(el, text) {
    text = text == null ? "" : String(text);
    var at = 0;
    text.replace(LINK, function (url, index) {
      var clean = url.replace(/[.,;:!?)\]]+$/, "");
      el.appendChild(document.createTextNode(text.slice(at, index)));
      el.appendChild(h("a", { href: clean, target: "_blank", rel: "noopener noreferrer nofollow", text: clean }));
      at = index + clean.length;
      return url;
    });
    el.appendChild(document.createTextNode(text.slice(at)));
  }

  function build(settings) {
    var host = h("div", { id: "ndoto-chat" });
    var root = host.attachShadow({ mode: "open" });
    var css = h("link", { rel: "stylesheet", href: base + "/widget/ndoto.css" });
    var title = settings.title;
    ui.box = h("div", { class: "root " + (settings.position === "left" ? "left" : "right"), hidden: true });
    ui.box.style.setProperty("--accent", settings.color);
    ui.title = h("h2", { id: "ndoto-title", text: title });
    ui.close = h("button", { type: "button", class: "close", "aria-label": t("close"), text: "\u00d7" });
    ui.status = h("div", { class: "status", role: "status", "aria-live": "polite" });
    ui.log = h("div", { class: "log", role: "log", "aria-live": "polite", "aria-label": t("messages"), tabindex: "0" });
    ui.typing = h("div", { class: "typing", "aria-live": "polite" });
    ui.text = h("textarea", { rows: "1", placeholder: t("placeholder"), "aria-label": t("placeholder"), maxlength: "10000" });
    ui.send = h("button", { type: "submit", class: "send", text: t("send") });
    ui.composer = h("form", { class: "composer" }, [ui.text, ui.send]);
    ui.prechat = h("form", { class: "prechat", hidden: true });
    ui.panel = h("div", { class: "panel", id: "ndoto-panel", role: "dialog", "aria-labelledby": "ndoto-title", hidden: true }, [
      h("header", {}, [ui.title, ui.close]), ui.status, ui.log, ui.typing, ui.prechat, ui.composer
    ]);
    ui.badge = h("span", { class: "badge", hidden: true, "aria-hidden": "true" });
    ui.bubble = h("button", {
      type: "button", class: "bubble", "aria-label": t("open"), "aria-expanded": "false", "aria-controls": "ndoto-panel"
    }, [icon(), ui.badge]);
    ui.box.appendChild(ui.panel);
    ui.box.appendChild(ui.bubble);
    root.appendChild(css);
    root.appendChild(ui.box);
    css.addEventListener("load", function () { ui.box.hidden = false; });
    css.addEventListener("error", function () { ui.box.hidden = false; });
    greet(settings.greeting);

    ui.bubble.addEventListener("click", function () { toggle(); });
    ui.close.addEventListener("click", function () { close(); });
    ui.panel.addEventListener("keydown", function (e) { if (e.key === "Escape") { e.preventDefault(); close(); } });
    ui.composer.addEventListener("submit", function (e) { e.preventDefault(); submit(); });
    ui.text.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); submit(); }
    });
    ui.text.addEventListener("input", function () { grow(); typed(); });
    (document.body || document.documentElement).appendChild(host);
  }

  function grow() {
    ui.text.style.height = "auto";
    ui.text.style.height = Math.min(ui.text.scrollHeight + 2, 120) + "px";
  }

  function greet(text) {
    if (!text) return;
    var el = h("div", { class: "msg them greeting" }, [h("span", { class: "who", text: ui.title.textContent })]);
    richText(el, text);
    ui.log.appendChild(el);
  }

  function note(text, cls) {
    var el = h("div", { class: "note " + (cls || ""), text: text });
    ui.log.appendChild(el);
    scroll();
    return el;
  }

  function scroll() { ui.log.scrollTop = ui.log.scrollHeight; }

  // -- Messages ------------------------------------------------------------------------------

  function mine(msg) { return msg.message_type === 0; }

  function fill(el, msg) {
    el.textContent = "";
    if (!mine(msg) && msg.sender && msg.sender.name) el.appendChild(h("span", { class: "who", text: msg.sender.name }));
    // The rating question reads in the visitor's language (the server's text is English).
    richText(el, msg.content_type === "input_csat" && S.rate_question ? S.rate_question : msg.content);
    var items = msg.content_type === "input_select" && msg.content_attributes && msg.content_attributes.items;
    if (Array.isArray(items) && items.length) {
      var options = h("div", { class: "options" });
      items.slice(0, 20).forEach(function (item) {
        var label = String((item && (item.title || item.value)) || "");
        if (!label) return;
        var b = h("button", { type: "button", text: label });
        b.addEventListener("click", function () { send(label); });
        options.appendChild(b);
      });
      el.appendChild(options);
    }
    if (msg.content_type === "input_csat") rating(el, msg);
    // The pages an AI answer was grounded on (the server sends only those with a web address).
    var sources = msg.content_attributes && msg.content_attributes.sources;
    if (!mine(msg) && Array.isArray(sources) && sources.length) {
      var links = h("div", { class: "sources" });
      sources.slice(0, 4).forEach(function (s) {
        var url = String((s && s.url) || "");
        if (!/^https?:\/\//.test(url)) return;
        links.appendChild(h("a", { href: url, target: "_blank", rel: "noopener noreferrer", text: String(s.title || url) }));
      });
      if (links.childNodes.length) el.appendChild(links);
    }
  }

  /** The rating question asked at resolution: five buttons, then the visitor's answer (it may change it). */
  function rating(el, msg) {
    var sv = msg.content_attributes && msg.content_attributes.submitted_values;
    var given = sv && sv.csat_survey_response && sv.csat_survey_response.rating;
    var row = h("div", { class: "options rating", role: "group", "aria-label": t("rate") });
    [1, 2, 3, 4, 5].forEach(function (n) {
      var b = h("button", { type: "button", text: String(n), "aria-label": t("rate_n").replace("{n}", String(n)) });
      if (given === n) b.classList.add("chosen");
      b.addEventListener("click", function () {
        row.querySelectorAll("button").forEach(function (x) { x.disabled = true; });
        call("PATCH", "/messages/" + msg.id, { submitted_values: { csat_survey_response: { rating: n } } })
          .then(function (updated) { show(updated, false); })
          .catch(function () { row.querySelectorAll("button").forEach(function (x) { x.disabled = false; }); note(t("failed"), "failed"); });
      });
      row.appendChild(b);
    });
    el.appendChild(row);
    if (given) el.appendChild(h("div", { class: "rated", text: t("rated").replace("{n}", String(given)) }));
  }

  /** Show a message once, in id order, whatever path it came by (POST answer, stream, refetch). */
  function show(msg, live) {
    if (msg == null || msg.id == null) return;
    var el = state.ids.get(msg.id);
    if (!el && mine(msg)) {
      var i = state.pending.findIndex(function (p) { return p.content === String(msg.content || "").trim(); });
      if (i >= 0) { el = state.pending[i].el; state.pending.splice(i, 1); el.classList.remove("pending", "failed"); }
    }
    if (!el) {
      el = h("div", { class: "msg " + (mine(msg) ? "me" : "them") });
      var after = null;
      for (var n = ui.log.lastElementChild; n; n = n.previousElementSibling) {
        if (n.dataset.id && Number(n.dataset.id) < msg.id) { after = n; break; }
        if (n.dataset.id == null && n.classList.contains("greeting")) { after = n; break; }
      }
      ui.log.insertBefore(el, after ? after.nextSibling : ui.log.firstChild);
      if (live && !mine(msg)) {
        if (!state.open) { state.unread += 1; badge(); }
        emit("message", msg);
      }
    }
    el.dataset.id = String(msg.id);
    state.ids.set(msg.id, el);
    fill(el, msg);
    if (!mine(msg)) theirTyping(false);
    if (state.resolvedNote && live) { state.resolvedNote.remove(); state.resolvedNote = null; }
    scroll();
  }

  function badge() {
    ui.badge.hidden = state.unread === 0;
    ui.badge.textContent = state.unread > 9 ? "9+" : String(state.unread);
  }

  function submit() {
    var text = ui.text.value.trim();
    if (!text) return;
    ui.text.value = "";
    grow();
    send(text);
  }

  function send(text, existing) {
    var el = existing || h("div", { class: "msg me pending" });
    el.classList.add("pending");
    el.classList.remove("failed");
    if (!existing) { richText(el, text); ui.log.appendChild(el); }
    var entry = { content: text, el: el };
    state.pending.push(entry);
    scroll();
    stopTyping();
    return visitor().then(function () {
      return call("POST", "/messages", { content: text });
    }).then(function (msg) {
      if (!state.conversation) state.conversation = { id: msg.conversation_id, status: "open" };
      var i = state.pending.indexOf(entry);
      if (i >= 0) state.pending.splice(i, 1);
      var seen = state.ids.get(msg.id);
      if (seen && seen !== el) el.remove();
      else { el.classList.remove("pending"); el.dataset.id = String(msg.id); state.ids.set(msg.id, el); }
      connect();
    }).catch(function (err) {
      var i = state.pending.indexOf(entry);
      if (i >= 0) state.pending.splice(i, 1);
      el.classList.remove("pending");
      el.classList.add("failed");
      var retry = h("button", { type: "button", class: "retry", text: err.status === 429 ? t("slow_down") : t("failed") });
      retry.addEventListener("click", function () { retry.remove(); send(text, el); });
      el.appendChild(retry);
    });
  }

  // -- Typing, both ways ---------------------------------------------------------------------

  function typed() {
    if (!state.conversation || !state.token) return;
    var now = Date.now();
    if (now - state.typingOn > 5000) { state.typingOn = now; call("POST", "/typing", { on: true }).catch(function () {}); }
    clearTimeout(state.typingIdle);
    state.typingIdle = setTimeout(stopTyping, 3000);
  }

  function stopTyping() {
    clearTimeout(state.typingIdle);
    if (state.typingOn) { state.typingOn = 0; call("POST", "/typing", { on: false }).catch(function () {}); }
  }

  function theirTyping(on, name) {
    clearTimeout(state.theirTyping);
    ui.typing.textContent = on ? t("typing").split("{name}").join(name || t("someone")) : ""; // no $-patterns from a name
    if (on) state.theirTyping = setTimeout(function () { theirTyping(false); }, TYPING_TIMEOUT);
  }

  // -- The visitor, the conversation, the live stream -----------------------------------------

  function visitor() {
    if (state.token) return Promise.resolve();
    if (!state.visitorP) {
      state.visitorP = call("POST", "/session", {}).then(function (data) {
        save(data.token);
        state.contact = data.contact;
      }).finally(function () { state.visitorP = null; });
    }
    return state.visitorP;
  }

  function fetchConversation() {
    return call("GET", "/conversation").then(function (data) {
      state.contact = data.contact;
      state.conversation = data.conversation;
      if (state.lastEventId == null) state.lastEventId = data.last_event_id;
      data.messages.forEach(function (m) { show(m, false); });
      status(data.conversation && data.conversation.status);
      state.loaded = true;
    });
  }

  function status(value) {
    if (state.conversation) state.conversation.status = value;
    if (value === "resolved" && !state.resolvedNote) state.resolvedNote = note(t("resolved"), "resolved");
    if (value && value !== "resolved" && state.resolvedNote) { state.resolvedNote.remove(); state.resolvedNote = null; }
  }

  function connect() {
    if (!state.token || state.es) return;
    var url = API + "/stream?website_token=" + encodeURIComponent(site) + "&token=" + encodeURIComponent(state.token) +
      (state.lastEventId != null ? "&after=" + state.lastEventId : "");
    var es = new EventSource(url);
    var broken = false;
    state.es = es;
    function seen(e) { var id = Number(e.lastEventId); if (id > (state.lastEventId || 0)) state.lastEventId = id; }
    es.addEventListener("open", function () {
      state.retry = 0;
      ui.status.textContent = "";
      if (broken) { broken = false; fetchConversation().catch(function () {}); }
    });
    es.addEventListener("message", function (e) { seen(e); show(JSON.parse(e.data).message, true); });
    es.addEventListener("typing", function (e) { seen(e); var d = JSON.parse(e.data); theirTyping(d.on, d.name); });
    es.addEventListener("status", function (e) { seen(e); status(JSON.parse(e.data).status); });
    es.addEventListener("error", function () {
      broken = true;
      ui.status.textContent = t("offline");
      if (es.readyState === EventSource.CLOSED) {
        // The server refused or failed: the browser will not retry by itself; we do, from the last id.
        es.close();
        state.es = null;
        clearTimeout(state.retryTimer);
        state.retry = Math.min(state.retry + 1, 6);
        state.retryTimer = setTimeout(connect, 500 * Math.pow(2, state.retry));
      }
    });
  }

  function disconnect() {
    clearTimeout(state.retryTimer);
    if (state.es) { state.es.close(); state.es = null; }
  }

  function prechat() {
    var s = state.settings;
    var c = state.contact || { anonymous: true }; // a visitor not started yet is anonymous
    var askName = s.prechat_name && c.anonymous;
    var askEmail = s.prechat_email && !c.email;
    if (state.conversation || (!askName && !askEmail)) {
      ui.prechat.hidden = true;
      ui.composer.hidden = false;
      return false;
    }
    if (!ui.prechat.hidden) return true; // already asking: keep what the visitor typed
    ui.prechat.textContent = "";
    var fields = [h("p", { text: t("prechat_intro") })];
    var name = askName && h("input", { type: "text", name: "name", required: true, autocomplete: "name", "aria-label": t("prechat_name"), placeholder: t("prechat_name"), maxlength: "255" });
    var email = askEmail && h("input", { type: "email", name: "email", required: true, autocomplete: "email", "aria-label": t("prechat_email"), placeholder: t("prechat_email"), maxlength: "255" });
    var error = h("p", { class: "error", role: "alert" });
    ui.prechat.appendChild(h("div", {}, fields.concat([name, email, error, h("button", { type: "submit", text: t("prechat_start") })])));
    ui.prechat.onsubmit = function (e) {
      e.preventDefault();
      visitor().then(function () {
        return call("PATCH", "/contact", { name: name ? name.value : null, email: email ? email.value : null });
      }).then(function (contact) {
        state.contact = contact;
        prechat();
        ui.text.focus();
      }).catch(function (err) { error.textContent = err.message; });
    };
    ui.prechat.hidden = false;
    ui.composer.hidden = true;
    return true;
  }

  function start() {
    return visitor().then(function () {
      if (!state.triggered) {
        state.triggered = true;
        call("POST", "/events", {
          name: "webwidget.triggered",
          event_info: { initiated_at: { timestamp: new Date().toString() }, referer: location.href, browser_language: navigator.language }
        }).catch(function () { state.triggered = false; });
      }
      return state.loaded ? null : fetchConversation();
    }).then(function () { connect(); });
  }

  function open() {
    return ready.then(function () {
      if (state.open) return;
      state.open = true;
      state.unread = 0;
      badge();
      ui.panel.hidden = false;
      ui.box.classList.add("open");
      ui.bubble.setAttribute("aria-expanded", "true");
      ui.bubble.setAttribute("aria-label", t("close"));
      emit("opened");
      prechat();
      focusFirst(); // at once: the visitor can start typing while the thread loads
      return start().catch(function (err) { ui.status.textContent = err.status === 403 ? t("refused") : err.message; }).then(function () {
        prechat();
        focusFirst();
        scroll();
      });
    });
  }

  /** Focus the first field of what the panel shows, unless the visitor is already in it. */
  function focusFirst() {
    var active = ui.box.getRootNode().activeElement;
    var asking = !ui.prechat.hidden;
    if (!active || !(asking ? ui.prechat : ui.composer).contains(active)) (asking ? ui.prechat.querySelector("input") : ui.text).focus();
  }

  function close() {
    if (!state.open) return;
    state.open = false;
    stopTyping();
    ui.panel.hidden = true;
    ui.box.classList.remove("open");
    ui.bubble.setAttribute("aria-expanded", "false");
    ui.bubble.setAttribute("aria-label", t("open"));
    ui.bubble.focus();
    emit("closed");
  }

  function toggle(want) {
    var opening = want === undefined ? !state.open : !!want;
    return opening ? open() : Promise.resolve(close());
  }

  function clearView() {
    disconnect();
    state.ids.clear();
    state.pending = [];
    state.conversation = null;
    state.lastEventId = null;
    state.loaded = false;
    state.resolvedNote = null;
    ui.log.textContent = "";
    greet(state.settings.greeting);
  }

  function setUser(identifier, user) {
    user = user || {};
    return ready.then(function () {
      return call("POST", "/user", {
        identifier: String(identifier), name: user.name || null, email: user.email || null, identifier_hash: user.identifier_hash || null
      });
    }).then(function (data) {
      var changed = data.token !== state.token;
      save(data.token);
      state.contact = data.contact;
      if (changed) {
        clearView();
        if (state.open) return start().then(function () { prechat(); return data.contact; });
        return fetchConversation().then(function () { if (state.conversation) connect(); return data.contact; });
      }
      if (state.open) prechat();
      return data.contact;
    }).catch(function (err) {
      if (err.status === 401 && ui.status) ui.status.textContent = t("unverified");
      throw err;
    });
  }

  function reset() {
    return ready.then(function () {
      save(null);
      state.contact = null;
      state.triggered = false;
      clearView();
      if (state.open) return start().then(prechat);
    });
  }

  function locale(settings, available) {
    var wanted = script.getAttribute("data-locale") || settings.locale || "en";
    if (available.indexOf(wanted) >= 0) return wanted;
    var lang = wanted.split("-")[0];
    return available.indexOf(lang) >= 0 ? lang : "en";
  }

  function strings(name) {
    return fetch(base + "/widget/locales/" + name + ".json", { credentials: "omit" }).then(function (r) { return r.ok ? r.json() : {}; });
  }

  window.$ndoto = {
    isNdoto: true, open: open, close: function () { return ready.then(close); }, toggle: function (w) { return ready.then(function () { return toggle(w); }); },
    setUser: setUser, reset: reset
  };

  call("GET", "/config").then(function (config) {
    state.settings = config.settings;
    if (config.contact) state.contact = config.contact;
    else if (state.token) save(null); // a token of an old key or another site
    var lang = locale(config.settings, config.locales || ["en"]);
    return Promise.all([strings("en"), lang === "en" ? {} : strings(lang)]).then(function (both) {
      S = Object.assign({}, both[0], both[1]);
      build(config.settings);
      readyResolve();
      emit("ready");
      // A returning visitor: its conversation, live, so replies while the chat is closed count as unread.
      if (state.token) fetchConversation().then(function () { if (state.conversation) connect(); }).catch(function () {});
    });
  }).catch(function (err) {
    // A page of an origin the inbox does not allow gets no readable answer at all (CORS).
    console.warn("Ndoto chat is not available here: " + (err.status ? err.message : "the server is unreachable or does not allow this site's origin"));
  });
})();
