// Shows each time of a page in the reader's own time zone. The server writes every time as
// <time datetime="...Z" title="... UTC">UTC text</time>; this turns the text into the
// browser's zone (or the zone a <time data-time-zone="Area/City"> names, a workshop's own)
// and keeps UTC in the title. Without JavaScript the page reads in UTC, complete.
(function () {
  "use strict";
  if (!window.Intl || !Intl.DateTimeFormat) {
    return;
  }
  var formats = {};

  function format(zone) {
    var key = zone || "";
    if (!formats[key]) {
      // Parts, so the text keeps the page's own short form: 2026-11-03 21:05.
      var options = {
        year: "numeric", month: "2-digit", day: "2-digit",
        hour: "2-digit", minute: "2-digit", hourCycle: "h23"
      };
      if (zone) {
        options.timeZone = zone;
      }
      try {
        formats[key] = new Intl.DateTimeFormat(undefined, options);
      } catch (e) {
        // A zone this browser does not know: its own zone instead.
        delete options.timeZone;
        formats[key] = new Intl.DateTimeFormat(undefined, options);
      }
    }
    return formats[key];
  }

  function convert(root) {
    var times = root.querySelectorAll ? root.querySelectorAll("time[datetime]") : [];
    Array.prototype.forEach.call(times, function (time) {
      if (time.getAttribute("data-shown") === "local") {
        return;
      }
      var at = new Date(time.getAttribute("datetime"));
      if (isNaN(at.getTime())) {
        return;
      }
      var part = {};
      format(time.getAttribute("data-time-zone")).formatToParts(at).forEach(function (p) {
        part[p.type] = p.value;
      });
      time.textContent = part.year + "-" + part.month + "-" + part.day + " " +
        part.hour + ":" + part.minute;
      time.setAttribute("data-shown", "local");
    });
  }

  convert(document);
  // live.js swaps in a fresh page: its times are converted as they arrive.
  if (window.MutationObserver) {
    new MutationObserver(function (changes) {
      changes.forEach(function (change) {
        Array.prototype.forEach.call(change.addedNodes, function (node) {
          if (node.nodeType === 1) {
            convert(node.parentNode || node);
          }
        });
      });
    }).observe(document.body, { childList: true, subtree: true });
  }
})();
