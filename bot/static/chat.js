// Refreshes the transcript every few seconds so staff replies appear; the page works without it.
(function () {
  var log = document.getElementById("log");
  var last = log.innerHTML;
  function scrollDown() { window.scrollTo(0, document.body.scrollHeight); }
  scrollDown();
  setInterval(function () {
    if (document.activeElement && document.activeElement.tagName === "TEXTAREA" && document.activeElement.value) return;
    fetch("/chat?partial=1", { credentials: "same-origin" }).then(function (r) { return r.text(); }).then(function (html) {
      if (html !== last) { log.innerHTML = html; last = html; scrollDown(); }
    }).catch(function () {});
  }, 4000);
})();
