/* Staff console: live inbox (server-sent events), waiting times, reply counter, canned replies.
   Served as a file (/console/staff.js) because the console's CSP forbids inline scripts.
   Events carry ids and flags only; the page fetches the rows it may see. */
(function () {
  "use strict";

  function minutesLabel(min) {
    if (min < 1) return "1分未満";
    if (min < 60) return min + "分";
    var h = Math.floor(min / 60), m = min % 60;
    return h + "時間" + (m ? m + "分" : "");
  }

  function tickWaits() {
    var now = Date.now();
    document.querySelectorAll("time.st-waited[data-since]").forEach(function (el) {
      if (el.dataset.fixed) return;
      var since = Date.parse(el.dataset.since);
      if (!isNaN(since)) el.textContent = minutesLabel(Math.max(0, Math.floor((now - since) / 60000)));
    });
  }

  // --- inbox -------------------------------------------------------------------------------
  var inbox = document.getElementById("st-inbox");
  var ticket = document.getElementById("st-ticket");
  var newCount = 0;
  var baseTitle = document.title;

  function refreshRows() {
    if (!inbox) return;
    fetch(inbox.dataset.rows, { credentials: "same-origin", headers: { "HX-Request": "true" } })
      .then(function (r) { if (r.status === 401) { location.href = "/console/login"; return null; } return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html === null || html === undefined) return;
        document.getElementById("st-rows").innerHTML = html;
        tickWaits();
      })
      .catch(function () {});
  }

  function showNew(data) {
    newCount += 1;
    var button = document.getElementById("st-new");
    if (button) {
      document.getElementById("st-new-count").textContent = String(newCount);
      button.hidden = false;
      button.classList.toggle("is-crisis", !!data.crisis || button.classList.contains("is-crisis"));
    }
    document.title = "(" + newCount + ") " + baseTitle;
    var live = document.getElementById("st-live");
    if (live) live.textContent = (data.crisis ? "緊急の相談が届きました" : "新しい相談が届きました") + "(" + newCount + "件)";
    if ("Notification" in window && Notification.permission === "granted" && document.hidden) {
      try {
        // why silent: the office may be quiet or shared; the badge and title carry the news
        new Notification(data.crisis ? "りすたぽ: 緊急の相談が届きました" : "りすたぽ: 新しい相談が届きました", { silent: true, tag: "ristapo-new" });
      } catch (e) { /* some browsers allow notifications only from a service worker */ }
    }
  }

  function clearNew() {
    newCount = 0;
    document.title = baseTitle;
    var button = document.getElementById("st-new");
    if (button) { button.hidden = true; button.classList.remove("is-crisis"); }
  }

  // --- conversation: new user messages appear in place (the reply box and its draft stay) ----
  function refreshTurns() {
    var turns = document.getElementById("st-turns");
    var fresh = document.getElementById("st-fresh");
    if (!turns) return;
    fetch(turns.dataset.src, { credentials: "same-origin", headers: { "HX-Request": "true" } })
      .then(function (r) { if (r.status === 401) { location.href = "/console/login"; return null; } return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html === null || html === undefined) { if (fresh) fresh.hidden = false; return; }
        turns.innerHTML = html;
        var live = document.getElementById("st-live-turns");
        if (live) { live.textContent = ""; setTimeout(function () { live.textContent = "相談者から新しいメッセージが届きました"; }, 50); }
      })
      .catch(function () { if (fresh) fresh.hidden = false; });
  }

  function connect() {
    if (!window.EventSource) return;
    var live = document.getElementById("st-live");
    var es = new EventSource("/console/events");
    es.onopen = function () { if (live) live.textContent = "自動で更新しています"; };
    es.onerror = function () { if (live) live.textContent = "接続が切れました。自動でつなぎ直します…"; };
    ["ticket_created", "ticket_claimed", "ticket_released", "ticket_transferred", "ticket_closed", "user_message", "consent_b_answered", "delivery_failed", "delivery_dead"].forEach(function (kind) {
      es.addEventListener(kind, function (ev) {
        var data = {};
        try { data = JSON.parse(ev.data); } catch (e) { return; }
        if (inbox) {
          if (kind === "ticket_created") showNew(data);
          refreshRows();
        }
        if (ticket && String(data.ticket_id) === ticket.dataset.ticket && (kind === "user_message" || kind === "consent_b_answered")) {
          refreshTurns();
        }
      });
    });
  }

  if (inbox) {
    var newButton = document.getElementById("st-new");
    if (newButton) newButton.addEventListener("click", function () { clearNew(); window.scrollTo(0, 0); });
    window.addEventListener("focus", function () { if (newCount) setTimeout(clearNew, 4000); });
    var notify = document.getElementById("st-notify");
    if (notify && "Notification" in window && Notification.permission === "default") {
      notify.hidden = false;
      notify.addEventListener("click", function () { Notification.requestPermission().then(function () { notify.hidden = true; }); });
    }
  }
  if (inbox || ticket) connect();

  // --- conversation: reply counter, canned replies, delivery badges ----------------------------
  var text = document.getElementById("st-reply-text");
  var counter = document.getElementById("st-counter");
  function units(value) {
    // LINE and Telegram count UTF-16 code units (an emoji can be 2); the web chat counts characters
    return text.dataset.utf16 === "1" ? value.length : Array.from(value).length;
  }
  function updateCounter() {
    if (!text || !counter) return;
    var limit = parseInt(text.dataset.limit, 10);
    var n = units(text.value.trim());
    counter.textContent = n.toLocaleString("ja-JP") + " / " + limit.toLocaleString("ja-JP") + " 文字" + (n > limit ? "(長すぎます。分けて送ってください)" : "");
    counter.classList.toggle("is-over", n > limit);
    var submit = text.form && text.form.querySelector("button[type=submit]");
    if (submit) submit.disabled = n === 0 || n > limit;
  }
  if (text) {
    text.addEventListener("input", updateCounter);
    updateCounter();
    var done = (location.search.match(/[?&]done=(\w+)/) || [])[1];
    if (done === "claimed" || done === "sent") {
      // just claimed (or just sent): the next thing to do is write, so the box gets the focus
      text.focus({ preventScroll: true });
      document.getElementById("st-reply").scrollIntoView({ block: "end" });
    }
    document.querySelectorAll("button[data-canned]").forEach(function (b) {
      b.addEventListener("click", function () {
        var body = b.dataset.canned;
        var start = text.selectionStart, end = text.selectionEnd;
        if (typeof start === "number" && text.value) {
          text.value = text.value.slice(0, start) + body + text.value.slice(end);
        } else {
          text.value = body;
        }
        text.focus();
        updateCounter();
      });
    });
  }

  function pollDeliveries() {
    document.querySelectorAll("[data-poll]").forEach(function (el) {
      fetch(el.dataset.poll, { credentials: "same-origin", headers: { "HX-Request": "true" } })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) { if (html) el.outerHTML = html; })
        .catch(function () {});
    });
  }

  tickWaits();
  setInterval(tickWaits, 20000);
  if (ticket) setInterval(pollDeliveries, 3000);
})();
