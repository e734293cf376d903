// A page that follows a background job reloads itself every few seconds (data-auto-refresh,
// in seconds) — with a button to stop and restart it (WCAG 2.2.1: a time limit the person can
// turn off), instead of a <meta http-equiv="refresh">. The choice holds across reloads.
(function () {
  "use strict";
  var KEY = "portal-auto-refresh-paused";

  function start() {
    var holder = document.querySelector("[data-auto-refresh]");
    if (!holder) return;
    var seconds = parseInt(holder.getAttribute("data-auto-refresh"), 10) || 2;
    var button = holder.querySelector("[data-refresh-toggle]");
    var timer = null;
    var paused = window.sessionStorage.getItem(KEY) === "1";

    function schedule() {
      window.clearTimeout(timer);
      if (!paused) timer = window.setTimeout(function () { window.location.reload(); }, seconds * 1000);
    }
    function show() {
      if (!button) return;
      button.hidden = false;
      button.textContent = paused ? "自動更新を再開する" : "自動更新を止める";
      button.setAttribute("aria-pressed", paused ? "true" : "false");
    }
    if (button) {
      button.addEventListener("click", function () {
        paused = !paused;
        window.sessionStorage.setItem(KEY, paused ? "1" : "0");
        show();
        schedule();
      });
    }
    show();
    schedule();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
