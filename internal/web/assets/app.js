(function () {
  document.documentElement.className += " js";
  var form = document.getElementById("fees-form");
  if (form) {
    var total = document.getElementById("total");
    var update = function () {
      var fen = 0;
      form.querySelectorAll("input.fee:checked").forEach(function (c) { fen += parseInt(c.getAttribute("data-fen"), 10) || 0; });
      if (total) {
        var cents = String(fen % 100);
        total.textContent = Math.floor(fen / 100) + "." + (cents.length < 2 ? "0" + cents : cents);
      }
    };
    form.querySelectorAll("input.select-all").forEach(function (all) {
      all.addEventListener("change", function () {
        var box = all.closest("fieldset");
        box.querySelectorAll("input.fee:not(:disabled)").forEach(function (c) { c.checked = all.checked; });
        update();
      });
    });
    form.addEventListener("change", update);
  }
  var wait = document.getElementById("waiting");
  if (wait && window.fetch) {
    var url = wait.getAttribute("data-status-url"), done = wait.getAttribute("data-done-url");
    setInterval(function () {
      fetch(url, { credentials: "same-origin", cache: "no-store" })
        .then(function (r) { return r.json(); })
        .then(function (j) { if (j.final) { window.location.href = done; } })
        .catch(function () {});
    }, 1500);
  }
})();
