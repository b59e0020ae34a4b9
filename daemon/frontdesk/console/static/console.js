/* The console's live part (no framework, no inline script: the CSP allows only this file).
 * - GET /events (Server-Sent Events): each "live" event is the whole #live fragment, swapped
 *   in while the keyboard focus stays on the element it was on (found again by its id);
 * - waits tick every second from data-since (epoch seconds, corrected by the server's time
 *   at page load);
 * - the pushed fragment is the same for every console: its forms get this page's CSRF token;
 * - when the stream fails: if the session is gone, the login page; otherwise a note, and the
 *   browser (or this script, after a refusal) tries again.
 * Every form also works without this script (POST, then back to the page). */
(function () {
  "use strict";
  var live = document.getElementById("live");
  if (!live) {
    return;
  }
  var meta = function (name) {
    var tag = document.querySelector('meta[name="' + name + '"]');
    return tag ? tag.getAttribute("content") : "";
  };
  var token = meta("csrf-token");
  var skew = Number(meta("server-time")) ? Number(meta("server-time")) - Date.now() / 1000 : 0;
  var note = document.getElementById("live-note");
  var RETRY_AFTER_REFUSAL_MS = 30000;

  function two(n) {
    return (n < 10 ? "0" : "") + n;
  }

  function duration(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    var h = Math.floor(seconds / 3600);
    var m = Math.floor((seconds % 3600) / 60);
    var s = seconds % 60;
    return (h ? h + ":" + two(m) : String(m)) + ":" + two(s);
  }

  function tick() {
    var now = Date.now() / 1000 + skew;
    live.querySelectorAll(".waited[data-since]").forEach(function (cell) {
      cell.textContent = duration(now - Number(cell.getAttribute("data-since")));
    });
  }

  function fillTokens() {
    live.querySelectorAll('input[name="csrf"]').forEach(function (input) {
      input.value = token;
    });
  }

  function swap(html) {
    var focused = document.activeElement;
    var focusId = focused && focused.id && live.contains(focused) ? focused.id : null;
    var holder = document.createElement("template");
    holder.innerHTML = html;
    var fresh = holder.content.getElementById("live");
    live.innerHTML = fresh ? fresh.innerHTML : html;
    fillTokens();
    tick();
    if (focusId) {
      var again = document.getElementById(focusId);
      if (again) {
        again.focus();
      }
    }
  }

  function showNote(shown) {
    if (note) {
      note.hidden = !shown;
    }
  }

  /* The session is gone (expired, logged out elsewhere): to the login page. */
  function checkSession(otherwise) {
    fetch("/", { cache: "no-store", credentials: "same-origin" })
      .then(function (answer) {
        if (answer.redirected && new URL(answer.url).pathname === "/login") {
          window.location.assign("/login");
        } else if (otherwise) {
          otherwise();
        }
      })
      .catch(function () {
        if (otherwise) {
          otherwise();
        }
      });
  }

  function connect() {
    var source = new EventSource("/events");
    source.addEventListener("live", function (event) {
      showNote(false);
      swap(event.data);
    });
    source.onerror = function () {
      showNote(true);
      if (source.readyState === EventSource.CLOSED) {
        /* refused (401: logged out; 503: too many consoles): the browser gives up */
        checkSession(function () {
          window.setTimeout(connect, RETRY_AFTER_REFUSAL_MS);
        });
      } else {
        checkSession(null); /* the browser reconnects by itself */
      }
    };
  }

  tick();
  window.setInterval(tick, 1000);
  if (window.EventSource) {
    connect();
  }
})();
