(function () {
  document.documentElement.className += " js";
  // A page the browser restores from its back/forward cache shows what was
  // true when it was left (an order since made, items since held): load
  // it again instead.
  window.addEventListener("pageshow", function (e) { if (e.persisted) { window.location.reload(); } });
  var each = function (list, fn) { Array.prototype.forEach.call(list, fn); };
  var form = document.getElementById("fees-form");
  if (form) {
    var total = document.getElementById("total");
    var payNote = document.getElementById("pay-note");
    var checkURL = form.getAttribute("data-check-url");
    var free = form.querySelector("input[name=free]");
    var update = function () {
      var fen = 0;
      each(form.querySelectorAll("input.fee:checked"), function (c) { fen += parseInt(c.getAttribute("data-fen"), 10) || 0; });
      if (total) {
        var cents = String(fen % 100);
        total.textContent = Math.floor(fen / 100) + "." + (cents.length < 2 ? "0" + cents : cents);
      }
    };
    // The rules said where they apply, as the student ticks: the server
    // lays the ticks over the board (which project carries the ✓, which
    // ticks break R7 or R8); 支付 still asks the server, which decides.
    var seq = 0, timer = null;
    var check = function () {
      if (!checkURL || !window.fetch) { return; }
      var ids = [];
      each(form.querySelectorAll("input.fee:checked"), function (c) { ids.push(c.id.replace("item-", "")); });
      var mine = ++seq;
      fetch(checkURL + "?items=" + encodeURIComponent(ids.join(",")) + (free ? "&free=1" : ""), { credentials: "same-origin", cache: "no-store" })
        .then(function (r) { return r.json(); })
        .then(function (j) {
          if (mine !== seq || !j.notes) { return; }
          var bad = {};
          j.notes.forEach(function (n) { n.items.forEach(function (i) { bad[i] = true; }); });
          each(form.querySelectorAll("fieldset.project"), function (fs) {
            var id = fs.getAttribute("data-project"), texts = [];
            j.notes.forEach(function (n) { if (String(n.project) === id) { texts.push(n.text); } });
            var tick = fs.querySelector(".tick"), note = fs.querySelector(".rule-note");
            if (tick) { tick.hidden = String(j.project) !== id; }
            if (note) { note.textContent = texts.join(" "); note.hidden = texts.length === 0; }
          });
          each(form.querySelectorAll("li.item"), function (li) { li.classList.toggle("conflict", !!bad[li.getAttribute("data-item")]); });
          if (payNote) { payNote.hidden = j.notes.length === 0; }
          if (total && j.total) { total.textContent = j.total; }
        })
        .catch(function () {});
    };
    each(form.querySelectorAll("input.select-all"), function (all) {
      all.addEventListener("change", function () {
        var box = all.closest("fieldset");
        each(box.querySelectorAll("input.fee:not(:disabled)"), function (c) { c.checked = all.checked; });
      });
    });
    form.addEventListener("change", function () {
      update();
      clearTimeout(timer);
      timer = setTimeout(check, 120);
    });
  }
  // A page waiting for an order's outcome asks for its status quietly and
  // shows the result (or a new refusal) once there is one; no reloads.
  var watch = document.getElementById("watch");
  if (watch && window.fetch) {
    var url = watch.getAttribute("data-status-url"), done = watch.getAttribute("data-done-url");
    var failure = watch.getAttribute("data-failure") || "", started = Date.now();
    var tick = function () {
      fetch(url, { credentials: "same-origin", cache: "no-store" })
        .then(function (r) { return r.json(); })
        .then(function (j) {
          if (j.final || (j.failure || "") !== failure) { window.location.replace(done); return; }
          if (Date.now() - started < 20 * 60 * 1000) { setTimeout(tick, 1500); }
        })
        .catch(function () { setTimeout(tick, 5000); });
    };
    setTimeout(tick, 1500);
  }
})();
