// The web chat without reloads. The page works without this file (forms post and redirect);
// with it, the same forms are posted with fetch and the server answers with the new bubbles.
//  - the reply is appended, the START of the first new answer is scrolled to the top,
//    focus stays in the input, new bot and staff messages are read out (#announce);
//  - Enter sends on a desktop (Shift+Enter: new line); on a phone (coarse pointer) Enter is a
//    new line and the 送る button sends;
//  - every few seconds /chat/items is asked for new bubbles, so staff replies appear;
//  - the 「ふりがな」 switch shows or hides readings over kanji in place (remembered in
//    localStorage and in a cookie, so the server renders new bubbles the same way).
(function () {
  "use strict";
  var log = document.getElementById("log");
  if (!log || !window.fetch || !window.URLSearchParams) return;
  var input = document.getElementById("text");
  var announcer = document.getElementById("announce");
  var statusLine = document.getElementById("status");
  var coarse = !!(window.matchMedia && window.matchMedia("(pointer: coarse)").matches);
  var sending = false;

  if (input && !coarse) input.setAttribute("enterkeyhint", "send");

  function shown() { return parseInt(log.dataset.count || "0", 10) || 0; }

  function say(message) { if (statusLine) statusLine.textContent = message || ""; }

  // The words without their readings: a screen reader says 保護司 once, not 保護司ほごし.
  function spoken(el) {
    var copy = el.cloneNode(true);
    Array.prototype.forEach.call(copy.querySelectorAll("rt, rp"), function (r) { r.parentNode.removeChild(r); });
    return copy.textContent;
  }

  function readOut(bubbles) {
    if (!announcer || !bubbles.length) return;
    var parts = bubbles.map(function (b) {
      var who = b.dataset.who === "staff" ? "職員より: " : "";
      var title = b.querySelector("h2");
      var body = b.querySelector(".body");
      return who + (title ? spoken(title) + "。" : "") + (body ? spoken(body) : "");
    });
    announcer.textContent = "";
    // why a tick apart: a screen reader announces a change, not the same text set twice
    setTimeout(function () { announcer.textContent = parts.join("\n"); }, 50);
  }

  // Puts an update from the server into the log; returns the new bot/staff bubbles.
  function apply(update, after) {
    if (after !== shown()) return [];  // another update got there first; the next poll catches up
    var tmp = document.createElement("div");
    tmp.innerHTML = update.html;
    var added = [];
    if (update.reset) log.innerHTML = "";
    var bottom = document.getElementById("bottom");
    while (tmp.firstChild) {
      var node = tmp.firstChild;
      if (update.reset) log.appendChild(node);
      else if (node.id === "bottom") tmp.removeChild(node);
      else if (bottom) log.insertBefore(node, bottom);
      else log.appendChild(node);
      if (node.nodeType === 1 && node.classList.contains("bubble") && !node.classList.contains("user")) added.push(node);
    }
    log.dataset.count = String(update.count);
    readOut(added);
    return added;
  }

  function showStart(bubble) {
    if (bubble) bubble.scrollIntoView({ block: "start" });
  }

  // Taps and sends made while a turn is on its way wait their turn (never dropped silently).
  var queue = [];

  function send(form, submitter) {
    var typed = form.classList.contains("send");
    if (typed && !input.value.trim()) return;
    var data = new URLSearchParams();
    Array.prototype.forEach.call(form.elements, function (el) {
      if (el.name && el.tagName !== "BUTTON") data.append(el.name, el.value);
    });
    if (submitter && submitter.name) data.append(submitter.name, submitter.value);
    var typedText = typed ? input.value : null;
    if (typed) input.value = "";
    queue.push({ data: data, typed: typed, typedText: typedText, submitter: submitter });
    if (!sending) next();
  }

  function next() {
    var job = queue.shift();
    if (!job) return;
    var after = shown();
    sending = true;
    log.setAttribute("aria-busy", "true");
    say("送っています…");
    fetch("/chat?after=" + after, {
      method: "POST",
      body: job.data,
      credentials: "same-origin",
      headers: { "Accept": "application/json" }
    })
      .then(function (r) {
        if (r.status === 429) throw new Error("busy");
        if (!r.ok) throw new Error("status " + r.status);
        return r.json();
      })
      .then(function (update) {
        say("");
        var added = apply(update, after);
        showStart(added[0]);
        if (job.typed) {
          input.focus({ preventScroll: true });
        } else if (!document.body.contains(job.submitter) && added[0]) {
          added[0].focus({ preventScroll: true });  // the pressed button went away with the old bubbles
        }
      })
      .catch(function (err) {
        if (job.typed && !input.value) input.value = job.typedText;  // give the words back
        queue = [];
        say(err && err.message === "busy"
          ? "続けて送られたので、少し待ってからもう一度送ってください。"
          : "送れませんでした。電波を確かめて、もう一度送ってください。");
      })
      .then(function () { sending = false; log.removeAttribute("aria-busy"); next(); });
  }

  // 「ふりがな」: the <html> class shows or hides the <rt> readings; a page rendered without
  // them (the switch was off) is rendered again once with them, in place, keeping the place.
  var FURIGANA_KEY = "ristapo-furigana";
  var root = document.documentElement;
  var furiganaButton = document.querySelector("form.furigana-switch button");

  function furiganaOn() { return root.classList.contains("furigana"); }

  function remembered() {
    try { return window.localStorage.getItem(FURIGANA_KEY); } catch (e) { return null; }
  }

  function firstVisible() {
    var bubbles = log.querySelectorAll(".bubble");
    for (var i = 0; i < bubbles.length; i++) {
      var box = bubbles[i].getBoundingClientRect();
      if (box.bottom > 0) return { index: i, top: box.top };
    }
    return null;
  }

  function withReadings(tries) {
    var after = shown();
    fetch("/chat/items?all=1&after=" + after, { credentials: "same-origin", cache: "no-store", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (update) {
        if (!update || !furiganaOn()) return;
        if (sending || after !== shown()) {  // a turn got there first: once more, a moment later
          if (tries > 0) setTimeout(function () { withReadings(tries - 1); }, 500);
          return;
        }
        var place = firstVisible();
        log.innerHTML = update.html;
        log.dataset.count = String(update.count);
        log.dataset.ruby = "1";  // asked with the cookie on: rendered with readings
        if (place) {
          var same = log.querySelectorAll(".bubble")[place.index];
          if (same) window.scrollBy(0, same.getBoundingClientRect().top - place.top);
        }
      })
      .catch(function () {});
  }

  function setFurigana(on) {
    root.classList.toggle("furigana", on);
    if (furiganaButton) {
      furiganaButton.setAttribute("aria-pressed", on ? "true" : "false");
      furiganaButton.value = on ? "0" : "1";  // what a plain post would ask for next
      var state = furiganaButton.querySelector(".state");
      if (state) state.textContent = on ? "オン" : "オフ";
    }
    try { window.localStorage.setItem(FURIGANA_KEY, on ? "1" : "0"); } catch (e) { /* private mode: the cookie still remembers */ }
    document.cookie = "ristapo_furigana=" + (on ? "1" : "0") + "; path=/; max-age=15552000; samesite=lax" +
      (window.location.protocol === "https:" ? "; secure" : "");
    if (!on) log.dataset.ruby = "0";  // bubbles that come while off have no readings
    else if (log.dataset.ruby !== "1") withReadings(3);
  }

  var stored = remembered();
  if (stored === "1" || stored === "0") {
    if ((stored === "1") !== furiganaOn()) setFurigana(stored === "1");  // this phone's choice wins
  } else if (furiganaOn()) {
    setFurigana(true);  // switched on without JavaScript before: remember it here too
  }

  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!form || form.getAttribute("action") !== "/chat") return;
    e.preventDefault();
    if (form.classList.contains("furigana-switch")) {
      setFurigana(!furiganaOn());
      return;
    }
    send(form, e.submitter || document.activeElement);
  });

  if (input) {
    input.addEventListener("keydown", function (e) {
      if (e.key !== "Enter" || e.shiftKey || e.isComposing || e.keyCode === 229) return;  // 229: IME still converting
      if (coarse) return;  // phones: Enter is a new line; the 送る button sends
      e.preventDefault();
      if (input.form.requestSubmit) input.form.requestSubmit();
      else send(input.form, null);
    });
  }

  function poll() {
    if (document.hidden || sending) return;
    var after = shown();
    fetch("/chat/items?after=" + after, { credentials: "same-origin", cache: "no-store", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (update) {
        if (!update || sending || (!update.reset && update.count === after)) return;
        showStart(apply(update, after)[0]);
      })
      .catch(function () {});
  }

  // on arrival, show the start of the latest reply (the first bubble after the person's last line)
  function latestReply() {
    var bubbles = log.querySelectorAll(".bubble");
    for (var i = bubbles.length - 1; i > 0; i--) {
      if (bubbles[i - 1].classList.contains("user") && !bubbles[i].classList.contains("user")) return bubbles[i];
    }
    return null;
  }
  if (shown()) {
    var latest = latestReply();
    if (latest) showStart(latest);
    else window.scrollTo(0, document.body.scrollHeight);
  }
  setInterval(poll, 4000);
})();
