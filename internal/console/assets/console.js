// The collection board refreshes itself: it fetches its figures again
// every few seconds and puts them in place, keeping the filters.
(function () {
  var live = document.getElementById("live");
  if (!live) return;
  var every = parseInt(live.getAttribute("data-every"), 10) || 5000;
  var busy = false;
  function refresh() {
    if (busy || document.hidden) return;
    busy = true;
    fetch(live.getAttribute("data-src"), {credentials: "same-origin", headers: {"Accept": "text/html"}})
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.text(); })
      .then(function (html) { live.innerHTML = html; live.removeAttribute("data-stale"); })
      .catch(function () { live.setAttribute("data-stale", "1"); })
      .then(function () { busy = false; });
  }
  setInterval(refresh, every);
})();
