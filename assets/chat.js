// Room page: live messages over SSE, posting without a reload, the room's
// state (its end, a countdown, the lock) kept current from the stream's
// room, deleted and ended events, and the host's forms sent without
// leaving the page. Without it every part still works by form posts.
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
  var life = $("lifetime"), countdown = $("countdown"), hostKey = root.dataset.host || "";
  var room = {
    ends: life ? life.dataset.ends : "",
    locked: !!$("locked-note") && !$("locked-note").hidden,
    ended: root.classList.contains("ended")
  };
  var tick, sent = false;

  // The reader's own time zone and clock format; the full date on hover.
  // A time marked data-zone (a room's end) names its zone, and its date
  // when that is not today.
  function localize(el) {
    var d = new Date(el.getAttribute("datetime"));
    if (isNaN(d)) return;
    if (el.hasAttribute("data-zone")) {
      var o = { hour: "numeric", minute: "2-digit", timeZoneName: "short" };
      if (d.toDateString() !== new Date().toDateString()) { o.day = "numeric"; o.month = "short"; }
      el.textContent = d.toLocaleString([], o);
    } else {
      el.textContent = d.toLocaleTimeString([], { timeStyle: "short" });
    }
    // The zone is the reader's: named on hover, where the date is too.
    el.title = d.toLocaleString([], { dateStyle: "medium", timeStyle: "short" }) + " " + zoneName(d);
  }

  function zoneName(d) {
    var p = new Intl.DateTimeFormat([], { timeZoneName: "short" }).formatToParts(d);
    for (var i = 0; i < p.length; i++) if (p[i].type === "timeZoneName") return p[i].value;
    return "";
  }

  function setTime(el, iso) {
    if (!el) return;
    el.setAttribute("datetime", iso);
    localize(el);
  }

  function setState(s) {
    status.dataset.state = s;
    status.textContent = s === "live" || s === "ended" ? s : s + "…";
  }

  // The countdown to the room's end, to the second, on the second. At
  // zero it waits for the server's ended event: the server's clock ends
  // the room, not the reader's.
  function pad(n) { return n < 10 ? "0" + n : "" + n; }
  function countDown() {
    clearTimeout(tick);
    if (!countdown || room.ended || !room.ends) return;
    var ms = Date.parse(room.ends) - Date.now(), s = Math.max(0, Math.ceil(ms / 1000));
    var h = Math.floor(s / 3600), m = Math.floor(s % 3600 / 60);
    countdown.textContent = (h ? h + ":" + pad(m) : m) + ":" + pad(s % 60);
    countdown.toggleAttribute("data-soon", s <= 300);
    if (s > 0) tick = setTimeout(countDown, ms - (s - 1) * 1000);
  }

  // applyState shows a room event's state: the end (extended), the lock.
  function applyState(st) {
    if (st.ended) return end(st);
    if (st.ends && st.ends !== room.ends) {
      room.ends = life.dataset.ends = st.ends;
      setTime($("ends"), st.ends);
    }
    room.locked = !!st.locked;
    if ($("locked-note")) $("locked-note").hidden = !room.locked;
    if ($("lock-form")) {
      $("lock-form").hidden = room.locked;
      $("unlock-form").hidden = !room.locked;
    }
    countDown();
  }

  // end shows that the room has ended, once: the stream closes (the server
  // ends it too), the form is disabled, the history stays.
  function end(st) {
    if (room.ended) return;
    room.ended = true;
    var stay = innerHeight + scrollY >= html.scrollHeight - 120;
    clearTimeout(timer);
    clearTimeout(tick);
    if (es) es.close();
    setState("ended");
    root.classList.add("ended");
    var ends = st.ends || room.ends;
    if ($("ends-line")) $("ends-line").hidden = true;
    if ($("locked-note")) $("locked-note").hidden = true;
    if (ends) {
      setTime($("ended-at").querySelector("time"), ends);
      $("ended-at").hidden = false;
      var grace = +life.dataset.grace;
      if (grace > 0) {
        setTime($("grace").querySelector("time"), new Date(Date.parse(ends) + grace * 1000).toISOString());
        $("grace").hidden = false;
      }
    }
    $("ended-note").hidden = false;
    if ($("transcript")) $("transcript").open = true;
    if (countdown) countdown.textContent = "0:00";
    nameEl.disabled = textEl.disabled = sendEl.disabled = true;
    textEl.placeholder = "This room has ended: it takes no more messages.";
    if ($("host-controls")) $("host-controls").hidden = true;
    list.querySelectorAll("form.delete").forEach(function (f) { f.remove(); });
    // The notes above the conversation grew: keep its end in view.
    if (stay) toBottom();
  }

  // checkEnded asks the server whether the room has ended, when the stream
  // is refused or a post is: then says so; else calls then.
  function checkEnded(then) {
    fetch(root.dataset.state, { headers: { Accept: "application/json" } }).then(function (res) {
      return res.ok ? res.json() : {};
    }).then(function (st) {
      if (st && st.ended) end(st); else if (then) then();
    }, function () { if (then) then(); });
  }

  function removeMessage(id) {
    var li = $("m-" + id);
    if (!li) return;
    var next = li.nextElementSibling;
    li.remove();
    if (next && next.classList.contains("message")) group(next);
    if (!list.querySelector("li.message")) {
      var empty = document.createElement("li");
      empty.id = "empty";
      empty.textContent = "No messages yet — say hello.";
      list.appendChild(empty);
    }
  }

  function toBottom() { scrollTo(0, html.scrollHeight); cue(0); }
  function atBottom() { return innerHeight + scrollY >= html.scrollHeight - 120; }

  // linkify writes text into el as text nodes and, for http and https
  // URLs, links: the rule of views.linkify, never through innerHTML.
  var linkRe = /\bhttps?:\/\/[^\s<>"'`]+/gi;
  function trimLink(s) {
    for (;;) {
      var c = s.slice(-1), o = { ")": "(", "]": "[", "}": "{" }[c];
      if (".,;:!?*".indexOf(c) >= 0 && c !== "" ||
          o && s.split(o).length < s.split(c).length ||
          c > "\x7f" && /\p{P}/u.test(c)) s = s.slice(0, -1);
      else return s;
    }
  }
  function linkify(el, text) {
    el.textContent = "";
    var last = 0, m;
    linkRe.lastIndex = 0;
    while ((m = linkRe.exec(text))) {
      var raw = trimLink(m[0]), u = null;
      linkRe.lastIndex = m.index + Math.max(raw.length, 1);
      try { u = new URL(raw); } catch (e) { u = null; }
      if (!u || !/^https?:$/.test(u.protocol) || !u.host || u.username || u.password) continue;
      if (m.index > last) el.appendChild(document.createTextNode(text.slice(last, m.index)));
      var a = document.createElement("a");
      a.href = u.href;
      a.rel = "nofollow noopener ugc";
      a.target = "_blank";
      a.textContent = raw;
      el.appendChild(a);
      last = m.index + raw.length;
    }
    if (last < text.length) el.appendChild(document.createTextNode(text.slice(last)));
  }

  // group marks li as continuing the group of the message before it: the
  // same author (name, and author tag where there is one) within three
  // minutes (views.GroupWindow), as the server renders history.
  var groupWindow = 3 * 60 * 1000;
  function group(li) {
    var prev = li.previousElementSibling, cont = false;
    if (prev && prev.classList.contains("message")) {
      var a = Date.parse(prev.querySelector("time").getAttribute("datetime")),
          b = Date.parse(li.querySelector("time").getAttribute("datetime"));
      cont = prev.querySelector(".username").textContent === li.querySelector(".username").textContent &&
        (prev.dataset.author || "") === (li.dataset.author || "") &&
        a > 0 && b > 0 && b - a >= 0 && b - a <= groupWindow;
    }
    li.classList.toggle("cont", cont);
  }

  function add(m) {
    var li = tpl.content.querySelector("li").cloneNode(true);
    if (m.id) { li.id = "m-" + m.id; li.dataset.id = m.id; }
    var del = li.querySelector("form.delete");
    if (del && m.id) del.action = "/rooms/" + encodeURIComponent(root.dataset.room) + "/messages/" + encodeURIComponent(m.id) + "/delete";
    else if (del) del.remove();
    li.querySelector(".username").textContent = m.username;
    if (m.author) { li.dataset.author = m.author; li.insertBefore(markFor(m.author), li.querySelector(".username")); }
    linkify(li.querySelector(".text"), m.message || "");
    var t = li.querySelector("time"), at = Date.parse(m.time);
    if (at) { t.setAttribute("datetime", m.time); localize(t); }
    var mine = isMine(m);
    notTyping(m);
    li.classList.toggle("my-message", mine);
    var stay = atBottom() || (mine && sent);
    if (mine) sent = false;
    if ($("empty")) $("empty").remove();
    list.appendChild(li);
    group(li);
    if (stay) toBottom(); else if (!mine) cue(1);
    if (document.visibilityState === "hidden" && !mine) unread(1);
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
    function data(ev) { try { return JSON.parse(ev.data); } catch (e) { return null; } }
    s.addEventListener("room", function (ev) { var st = data(ev); if (st) applyState(st); });
    s.addEventListener("deleted", function (ev) { var d = data(ev); if (d && d.id) removeMessage(d.id); });
    s.addEventListener("ended", function (ev) { end(data(ev) || {}); });
    s.addEventListener("presence", function (ev) { var p = data(ev); if (p) present(p); });
    s.addEventListener("typing", function (ev) { var t = data(ev); if (t) typists(t); });
    s.onerror = function () {
      if (s !== es || room.ended) return;
      setState("reconnecting");
      // CLOSED (server refused): retry ourselves, unless the room has
      // ended (its stream is 410 Gone); else the browser does.
      if (s.readyState === EventSource.CLOSED) {
        clearTimeout(timer);
        checkEnded(function () {
          timer = setTimeout(reconnect, delay);
          delay = Math.min(delay * 2, 30000);
        });
      }
    };
  }

  function reconnect() {
    if (room.ended || es.readyState !== EventSource.CLOSED) return;
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
    var why = body && body.error ? String(body.error).replace(/\.$/, "") : "error " + res.status;
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
    // Said at once, in the server's words, without a round trip.
    if (max && Array.from(text).length > max) return done("Your message was not sent: message is longer than " + max + " characters.");
    busy = sendEl.disabled = true;
    fetch(root.dataset.post, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username: name, message: text })
    }).then(function (res) {
      if (res.status === 410) checkEnded();
      if (res.status === 409) return res.json().catch(function () {}).then(function (b) { done(nameTaken(b)); });
      if (res.status !== 201) return res.json().catch(function () {}).then(function (b) { done(explain(res, b)); });
      // Keep what was typed while the post was in flight.
      var v = textEl.value;
      textEl.value = v.indexOf(text) === 0 ? v.slice(text.length) : v;
      document.cookie = "chat_name=" + encodeURIComponent(name) + "; path=/; max-age=31536000; SameSite=Lax";
      // Sending brings the conversation back down, and keeps it there
      // when the message comes back on the stream.
      sent = true;
      toBottom();
      done();
      count();
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

  // The host's forms go to the API with the key in a header: the page,
  // its stream and its scroll position stay; the answer (and the stream's
  // events, on every page of the room) show the change.
  var hostErr = $("host-error");
  function hostSend(url, method, body, then) {
    hostErr.textContent = "";
    var headers = { "X-Host-Key": hostKey, Accept: "application/json" };
    if (body) headers["Content-Type"] = "application/json";
    return fetch(url, { method: method, headers: headers, body: body ? JSON.stringify(body) : undefined }).then(function (res) {
      if (res.ok) return res.status === 204 ? then(null) : res.json().then(then);
      return res.json().catch(function () {}).then(function (b) {
        if (res.status === 410) checkEnded();
        var why = b && b.error ? String(b.error).replace(/\.$/, "") : "error " + res.status;
        hostErr.textContent = "That did not work: " + why + ".";
      });
    }, function () {
      hostErr.textContent = "Could not reach the server — nothing was changed.";
    });
  }
  if (hostKey) {
    root.addEventListener("submit", function (e) {
      var f = e.target, btn = e.submitter;
      if (f.classList.contains("delete")) {
        e.preventDefault();
        var li = f.closest("li.message");
        if (btn) btn.disabled = true;
        hostSend(root.dataset.post + "/" + encodeURIComponent(li.dataset.id), "DELETE", null, function () {
          removeMessage(li.dataset.id);
        }).then(function () { if (btn) btn.disabled = false; });
        return;
      }
      if (!f.closest("#host-controls")) return;
      e.preventDefault();
      var action = f.getAttribute("action").split("/").pop();
      var body = action === "extend" && btn ? { lifetime: btn.value } : null;
      f.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
      hostSend(root.dataset.state + "/host/" + action, "POST", body, applyState).then(function () {
        f.querySelectorAll("button").forEach(function (b) { b.disabled = false; });
      });
    });
    document.querySelectorAll("[data-copy]").forEach(function (b) {
      var input = $(b.dataset.copy);
      b.hidden = false;
      b.addEventListener("click", function () {
        input.select();
        var ok = function () { b.textContent = "Copied"; setTimeout(function () { b.textContent = "Copy"; }, 2000); };
        if (navigator.clipboard) navigator.clipboard.writeText(input.value).then(ok, function () {});
        else if (document.execCommand("copy")) ok();
      });
    });
  }
  document.querySelectorAll("input.link").forEach(function (el) {
    el.addEventListener("focus", function () { el.select(); });
  });

  // The character counter: the server's limit (chat.MaxTextChars, in
  // code points, as the server counts), shown as the text grows.
  var countEl = $("count"), max = +textEl.dataset.max || 0;
  function count() {
    if (!countEl || !max) return;
    var n = Array.from(textEl.value).length;
    countEl.textContent = n + " / " + max;
    countEl.hidden = false;
    countEl.toggleAttribute("data-over", n > max);
  }
  textEl.addEventListener("input", count);

  // The "new messages" cue: shown when messages arrive while the reader
  // is scrolled up; it takes them down, and goes once they are there.
  var cueEl = $("new-cue"), cued = 0;
  function cue(n) {
    if (!cueEl) return;
    cued = n ? cued + n : 0;
    cueEl.hidden = !cued;
    cueEl.textContent = cued === 1 ? "1 new message ↓" : cued + " new messages ↓";
  }
  if (cueEl) cueEl.addEventListener("click", function () { toBottom(); textEl.focus({ preventScroll: true }); });
  addEventListener("scroll", function () { if (cued && atBottom()) cue(0); }, { passive: true });

  // The unread count in the title while the tab is hidden.
  var title = document.title, unseen = 0;
  function unread(n) {
    unseen = n ? unseen + n : 0;
    document.title = unseen ? "(" + unseen + ") " + title : title;
  }
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") unread(0);
  });

  // Share: the system's share sheet where there is one, else the link to
  // the clipboard. The link is the room's page alone: never ?host= or
  // ?name=. Without the script it is a plain link to that page.
  var share = $("share");
  if (share) share.addEventListener("click", function (e) {
    var url = share.href, data = { title: share.dataset.title, url: url };
    if (navigator.share && (!navigator.canShare || navigator.canShare(data))) {
      e.preventDefault();
      navigator.share(data).catch(function () {});
    } else if (navigator.clipboard && window.isSecureContext) {
      e.preventDefault();
      navigator.clipboard.writeText(url).then(function () {
        share.textContent = "Link copied";
        setTimeout(function () { share.textContent = "Share"; }, 2000);
      }, function () { share.textContent = "Copy failed"; });
    }
  });

  // Who wrote what, who is here, who is typing. "Mine" is my author tag
  // (data-me, from my own key), not my name: two people of one name are
  // two, each with a small mark drawn from the tag. Items without a tag
  // (older ones) are mine by name.
  var myTag = root.dataset.me || "";
  function isMine(m) {
    if (m.author) return myTag !== "" && m.author === myTag;
    var me = nameEl.value.trim();
    return me !== "" && m.username === me;
  }
  // markFor is views.markClass's mark: one of eight, from the tag.
  function markFor(tag) {
    var h = 0;
    for (var i = 0; i < tag.length; i++) h = (h * 31 + tag.charCodeAt(i)) & 255;
    var el = document.createElement("span");
    el.className = "mark mark-" + (h % 8);
    el.title = "author " + tag.slice(0, 4);
    el.setAttribute("aria-hidden", "true");
    return el;
  }
  // A post under another author's name: the choice, with the numbered
  // name put in place, so that sending again takes it.
  function nameTaken(b) {
    if (!b || !b.suggestion) return "Your message was not sent: someone else already uses that name here.";
    nameEl.value = b.suggestion;
    return "Someone else already posts as “" + b.name + "” in this room. Send again to post as “" + b.suggestion + "”, or choose another name.";
  }
  var peopleEl = $("people"), watchersEl = $("watchers");
  function present(p) {
    if (!peopleEl) return;
    peopleEl.textContent = "";
    (p.people || []).forEach(function (pe, i) {
      if (i > 0) peopleEl.appendChild(document.createTextNode(", "));
      var el = document.createElement("span");
      el.className = "person";
      el.dir = "auto";
      el.textContent = pe.name;
      if (pe.tag) el.appendChild(markFor(pe.tag));
      if (pe.tag && pe.tag === myTag) el.classList.add("me");
      peopleEl.appendChild(el);
    });
    if (!(p.people || []).length) peopleEl.textContent = "no one yet";
    var n = p.watchers || 0;
    watchersEl.textContent = n ? n + " watching" : "";
  }
  // Typing: who typed in the last few seconds, but me; a message from
  // someone ends their typing.
  var typingEl = $("typing"), typing = {}, typingTimer;
  function key(pe) { return pe.tag || "\u0000" + pe.name; }
  function typists(t) {
    var until = Date.now() + 5000;
    (t.people || []).forEach(function (pe) {
      if (pe.tag && pe.tag === myTag) return;
      typing[key(pe)] = { name: pe.name, until: until };
    });
    showTyping();
  }
  function notTyping(m) {
    if (!typingEl) return;
    delete typing[key({ tag: m.author, name: m.username })];
    showTyping();
  }
  function showTyping() {
    if (!typingEl) return;
    var now = Date.now(), names = [], next = Infinity;
    Object.keys(typing).forEach(function (k) {
      if (typing[k].until <= now) { delete typing[k]; return; }
      names.push(typing[k].name);
      next = Math.min(next, typing[k].until);
    });
    typingEl.textContent = !names.length ? "" : names.length === 1 ? names[0] + " is typing…" :
      names.length <= 3 ? names.slice(0, -1).join(", ") + " and " + names[names.length - 1] + " are typing…" : "Several people are typing…";
    clearTimeout(typingTimer);
    if (names.length) typingTimer = setTimeout(showTyping, next - now);
  }
  // While I type, the room hears so at most every 3 seconds.
  var typedAt = 0;
  textEl.addEventListener("input", function () {
    var name = nameEl.value.trim(), now = Date.now();
    if (!name || !textEl.value || room.ended || now - typedAt < 3000 || !root.dataset.typing) return;
    typedAt = now;
    fetch(root.dataset.typing, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username: name })
    }).catch(function () {});
  });
  form.addEventListener("submit", function () { typedAt = 0; });

  document.querySelectorAll("time[datetime]").forEach(localize);
  if (list.querySelector("li.message")) toBottom();
  count();
  // On entry the box to type in has the focus (autofocus does not survive
  // every navigation, and a restored page keeps its scroll, not focus).
  if (!room.ended && document.activeElement === document.body) (nameEl.value.trim() ? textEl : nameEl).focus({ preventScroll: true });
  countDown();
  // An ended room takes no stream (it would be 410 Gone): its history is
  // all there is.
  if (!room.ended) connect(root.dataset.events);
})();
