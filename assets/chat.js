// Room page: live messages over SSE, posting without a reload.
(function () {
  "use strict";
  function $(id) { return document.getElementById(id); }
  var root = $("chat");
  if (!root) return;

  var list = $("messages"), tpl = $("message-template"), status = $("status");
  var form = $("post"), errEl = $("form-error"), expiry = $("expiry");
  var nameEl = form.elements.username, textEl = form.elements.message;
  var sendEl = form.querySelector("[type=submit]");
  var base = root.dataset.events.split("?")[0];
  var ids = list.querySelectorAll("li[data-id]");
  var lastId = ids.length ? ids[ids.length - 1].dataset.id : "";
  var es, timer, delay = 1000, busy = false;
  var html = document.documentElement;

  // The reader's own time zone and clock format; the full date on hover.
  function localize(el) {
    var d = new Date(el.getAttribute("datetime"));
    if (isNaN(d)) return;
    el.textContent = d.toLocaleTimeString([], { timeStyle: "short" });
    el.title = d.toLocaleString();
  }

  function setState(s) {
    status.dataset.state = s;
    status.textContent = s === "live" ? s : s + "…";
  }

  function toBottom() { scrollTo(0, html.scrollHeight); }

  function add(m) {
    var li = tpl.content.querySelector("li").cloneNode(true);
    if (m.id) { li.id = "m-" + m.id; li.dataset.id = m.id; }
    li.querySelector(".username").textContent = m.username;
    li.querySelector(".text").textContent = m.message;
    var t = li.querySelector("time"), at = Date.parse(m.time);
    if (at) { t.setAttribute("datetime", m.time); localize(t); }
    var me = nameEl.value.trim();
    li.classList.toggle("my-message", me !== "" && m.username === me);
    var stay = innerHeight + scrollY >= html.scrollHeight - 120;
    if ($("empty")) $("empty").remove();
    list.appendChild(li);
    if (stay) toBottom();
    // Each post keeps the history for another TTL.
    var et = expiry && expiry.querySelector("time");
    if (et && at) {
      et.setAttribute("datetime", new Date(at + expiry.dataset.ttl * 1000).toISOString());
      localize(et);
    }
  }

  function connect(url) {
    setState("connecting");
    var s = es = new EventSource(url);
    s.onopen = function () {
      delay = 1000;
      setState("live");
      // No cursor: the backlog replays id-less (legacy) items; drop ours.
      if (!lastId) list.querySelectorAll("li.message:not([data-id])").forEach(function (li) { li.remove(); });
    };
    s.addEventListener("message", function (ev) {
      var m;
      try { m = JSON.parse(ev.data); } catch (e) { return; }
      if (m.id) {
        lastId = m.id;
        if ($("m-" + m.id)) return;
      }
      add(m);
    });
    s.onerror = function () {
      if (s !== es) return;
      setState("reconnecting");
      // CLOSED (server refused): retry ourselves; else the browser does.
      if (s.readyState === EventSource.CLOSED) {
        clearTimeout(timer);
        timer = setTimeout(reconnect, delay);
        delay = Math.min(delay * 2, 30000);
      }
    };
  }

  function reconnect() {
    if (es.readyState !== EventSource.CLOSED) return;
    clearTimeout(timer);
    connect(lastId ? base + "?after=" + encodeURIComponent(lastId) : base);
  }

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") reconnect();
  });
  addEventListener("pageshow", function (e) { if (e.persisted) reconnect(); });
  addEventListener("online", reconnect);

  function explain(res, body) {
    var n = parseInt(res.headers.get("Retry-After"), 10) || 1;
    if (res.status === 429) return "You are sending messages too fast — try again in " + n + (n > 1 ? " seconds." : " second.");
    if (res.status === 503) return "The chat is unavailable right now — your message was not sent. Try again.";
    var why = body && body.error ? String(body.error).replace(/^invalid input: |\.$/g, "") : "error " + res.status;
    return "Your message was not sent: " + why + ".";
  }

  function done(msg) {
    errEl.textContent = msg || "";
    busy = sendEl.disabled = false;
    textEl.focus();
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    if (busy) return;
    var name = nameEl.value.trim(), text = textEl.value;
    busy = sendEl.disabled = true;
    fetch(root.dataset.post, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username: name, message: text })
    }).then(function (res) {
      if (res.status !== 201) return res.json().catch(function () {}).then(function (b) { done(explain(res, b)); });
      // Keep what was typed while the post was in flight.
      var v = textEl.value;
      textEl.value = v.indexOf(text) === 0 ? v.slice(text.length) : v;
      document.cookie = "chat_name=" + encodeURIComponent(name) + "; path=/; max-age=31536000; SameSite=Lax";
      done();
    }, function () {
      done("Could not reach the server — your message was not sent.");
    });
  });

  // Enter sends, Shift+Enter is a new line; never while an IME composes.
  textEl.addEventListener("keydown", function (e) {
    if (e.key !== "Enter" || e.shiftKey || e.isComposing || e.keyCode === 229) return;
    e.preventDefault();
    form.requestSubmit ? form.requestSubmit() : sendEl.click();
  });

  document.querySelectorAll("time[datetime]").forEach(localize);
  if (list.querySelector("li.message")) toBottom();
  connect(root.dataset.events);
})();
