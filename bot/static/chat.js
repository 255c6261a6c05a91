// Refreshes the conversation every few seconds so staff replies appear. The page works without it.
(function () {
  var log = document.getElementById("log");
  if (!log || !window.fetch) return;
  function scrollDown() { window.scrollTo(0, document.body.scrollHeight); }
  if (location.hash === "#bottom") scrollDown();
  function busy() {
    var a = document.activeElement;
    // never pull the page from under someone who is typing or on a button in the conversation
    return a && ((a.tagName === "TEXTAREA" && a.value) || log.contains(a));
  }
  setInterval(function () {
    if (document.hidden || busy()) return;
    fetch("/chat?partial=1", { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html === null) return;
        var tmp = document.createElement("div");
        tmp.innerHTML = html;
        if (tmp.innerHTML.trim() !== log.innerHTML.trim()) { log.innerHTML = tmp.innerHTML; scrollDown(); }
      })
      .catch(function () {});
  }, 4000);
})();
