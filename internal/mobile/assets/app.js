// campuspay phone app: small conveniences over server-rendered pages. The
// server decides every rule; this only keeps a running total, ticks 全选,
// counts down 免费获取, sends the payment forms on, and registers the
// service worker. Every page works without it.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/m/sw.js", { scope: "/m/" }).catch(function () {});
  }

  function yuan(fen) {
    var c = String(fen % 100);
    return Math.floor(fen / 100) + "." + (c.length < 2 ? "0" + c : c);
  }

  var form = document.getElementById("items-form");
  if (form) {
    var total = document.getElementById("total");
    var all = document.getElementById("select-all");
    var boxes = function () { return form.querySelectorAll("input.fee:not(:disabled)"); };
    var update = function () {
      var fen = 0, every = true, any = false;
      form.querySelectorAll("input.fee:checked").forEach(function (c) { fen += parseInt(c.getAttribute("data-fen"), 10) || 0; });
      boxes().forEach(function (c) { any = true; every = every && c.checked; });
      if (total) total.textContent = yuan(fen);
      if (all) all.checked = any && every;
    };
    if (all) {
      all.addEventListener("change", function () {
        boxes().forEach(function (c) { c.checked = all.checked; });
        update();
      });
    }
    form.addEventListener("change", function (e) { if (e.target !== all) update(); });
    update();
  }

  document.querySelectorAll("button[data-wait]").forEach(function (b) {
    var left = parseInt(b.getAttribute("data-wait"), 10) || 0;
    if (left <= 0) return;
    var label = b.textContent;
    b.disabled = true;
    var tick = function () {
      if (left <= 0) { b.disabled = false; b.textContent = label; return; }
      b.textContent = left + " 秒后重新获取";
      left--;
      setTimeout(tick, 1000);
    };
    tick();
  });

  var up = document.getElementById("unionpay-form");
  if (up) up.submit();
  var go = document.getElementById("h5-go");
  if (go) window.location.replace(go.getAttribute("href"));
})();
