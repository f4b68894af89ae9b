// vdmbench report: sortable leaderboard and synchronized sample playback (no dependencies).
(function () {
  "use strict";

  // --- sorting: numbers by value, text by locale; missing values ("") always last ---
  function sortTable(table, col, descending) {
    var tbody = table.tBodies[0];
    var rows = Array.prototype.slice.call(tbody.rows);
    var numeric = table.tHead.rows[0].cells[col].getAttribute("data-type") === "num";
    rows.sort(function (a, b) {
      var x = a.cells[col].getAttribute("data-sort");
      var y = b.cells[col].getAttribute("data-sort");
      if (x === "" || y === "") { return (x === "") - (y === ""); }
      var d = numeric ? parseFloat(x) - parseFloat(y) : x.localeCompare(y);
      return descending ? -d : d;
    });
    rows.forEach(function (r) { tbody.appendChild(r); });
  }

  document.querySelectorAll("table.sortable").forEach(function (table) {
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function (th, col) {
      th.querySelector("button").addEventListener("click", function () {
        var descending = th.getAttribute("aria-sort") === "ascending";
        Array.prototype.forEach.call(heads, function (h) { h.setAttribute("aria-sort", "none"); });
        th.setAttribute("aria-sort", descending ? "descending" : "ascending");
        sortTable(table, col, descending);
      });
    });
  });

  // --- a hint above each table wider than its box (it scrolls sideways) ---
  function hints() {
    document.querySelectorAll(".table-wrap").forEach(function (wrap) {
      var hint = wrap.previousElementSibling;
      if (hint && hint.classList.contains("scroll-hint")) {
        hint.hidden = wrap.scrollWidth <= wrap.clientWidth + 1;
      }
    });
  }
  hints();
  window.addEventListener("resize", hints);

  // --- playback: every clip loops; all follow the first one's clock ---
  var clips = Array.prototype.slice.call(document.querySelectorAll("video.clip"));
  if (!clips.length) { return; }
  var master = clips[0];
  var playing = true;
  var toggle = document.getElementById("play-toggle");

  function playAll() {
    clips.forEach(function (v) {
      var p = v.play();
      if (p && p.catch) { p.catch(function () { /* autoplay refused: the poster shows */ }); }
    });
  }
  function restart() {
    clips.forEach(function (v) { v.currentTime = 0; });
    if (playing) { playAll(); }
  }
  // re-align a clip only when it is more than DRIFT seconds (about one frame at 8 fps) off the
  // first one's clock, and not while it is seeking: seeks interrupt playback
  var DRIFT = 0.15;
  function resync() {
    if (!playing || master.readyState < 2 || master.seeking) { return; }
    var t = master.currentTime;
    clips.forEach(function (v) {
      if (v === master || v.readyState < 2 || v.seeking) { return; }
      var d = Math.abs(v.currentTime - t);
      var dur = v.duration || 0;
      if (d > DRIFT && (dur === 0 || d < dur - DRIFT)) { v.currentTime = t; }
    });
  }
  // start every clip from 0 together once all can play
  var waiting = clips.filter(function (v) { return v.readyState < 3; }).length;
  clips.forEach(function (v) {
    if (v.readyState >= 3) { return; }
    v.addEventListener("canplay", function () {
      waiting -= 1;
      if (waiting === 0) { restart(); }
    }, { once: true });
  });

  toggle.addEventListener("click", function () {
    playing = !playing;
    if (playing) { playAll(); } else { clips.forEach(function (v) { v.pause(); }); }
    toggle.textContent = playing ? "Pause all" : "Play all";
  });
  document.getElementById("restart").addEventListener("click", restart);
  document.getElementById("rate").addEventListener("change", function (e) {
    var r = parseFloat(e.target.value);
    clips.forEach(function (v) { v.playbackRate = r; });
  });
  setInterval(resync, 500);
  if (waiting === 0) { restart(); } else { playAll(); }
})();
