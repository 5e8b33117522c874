// Keeps a dashboard page current while a workshop runs: every few seconds it fetches the
// same page again and, when the statistics changed, swaps the new ones in. It is a file of
// its own so the Content-Security-Policy can forbid inline script; without it (or without
// JavaScript) the page is complete, only static.
(function () {
  "use strict";
  var PERIOD_MS = 5000;
  // A page that is slow to make (all workshops of a large database) is asked for less
  // often: the next check waits at least this many times as long as the last one took.
  var BACKOFF = 10;
  var main = document.querySelector("main[data-live]");
  var status = document.getElementById("live-status");
  if (!main || !status || !window.fetch || !window.DOMParser) {
    return;
  }
  var busy = false;
  // What the server last sent: a change of the page by the visitor (opening a <details>)
  // is not a change of the statistics.
  var shown = main.innerHTML;

  function say(text) {
    status.textContent = text;
  }

  function changed(field) {
    if (field.type === "checkbox") {
      return field.checked !== field.defaultChecked;
    }
    if (field.tagName === "SELECT") {
      return Array.prototype.some.call(field.options, function (option) {
        return option.selected !== option.defaultSelected;
      });
    }
    return field.value !== field.defaultValue;
  }

  // Swapping the page under someone filling in its form would lose what they typed.
  function editing() {
    var active = document.activeElement;
    if (active && main.contains(active) && /^(INPUT|SELECT|TEXTAREA)$/.test(active.tagName)) {
      return true;
    }
    return Array.prototype.some.call(main.querySelectorAll("input, select"), changed);
  }

  // Keeps the sections the visitor opened or closed as they were.
  function keepOpen(from, to) {
    var before = from.querySelectorAll("details");
    var after = to.querySelectorAll("details");
    if (before.length === after.length) {
      for (var i = 0; i < before.length; i++) {
        after[i].open = before[i].open;
      }
    }
  }

  var timer = null;

  function schedule(delay) {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, delay);
  }

  function refresh() {
    if (busy) {
      return;
    }
    if (document.hidden || editing()) {
      schedule(PERIOD_MS);
      return;
    }
    busy = true;
    var started = Date.now();
    fetch(window.location.href, { cache: "no-store", credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.text();
      })
      .then(function (html) {
        var parsed = new DOMParser().parseFromString(html, "text/html");
        var fresh = parsed.querySelector("main[data-live]");
        if (fresh && fresh.innerHTML !== shown) {
          shown = fresh.innerHTML;
          keepOpen(main, fresh);
          main.replaceWith(fresh);
          main = fresh;
          say("Live \u00b7 updated " + new Date().toLocaleTimeString());
        } else {
          say("Live \u00b7 checked " + new Date().toLocaleTimeString());
        }
      })
      .catch(function () {
        say("Live \u00b7 server unreachable, retrying");
      })
      .then(function () {
        busy = false;
        schedule(Math.max(PERIOD_MS, (Date.now() - started) * BACKOFF));
      });
  }

  status.hidden = false;
  say("Live \u00b7 updates every " + PERIOD_MS / 1000 + " s");
  schedule(PERIOD_MS);
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) {
      refresh();
    }
  });
})();
