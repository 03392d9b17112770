// campuspay phone app service worker. It caches the shell (stylesheet,
// script, icons, manifest, the offline page) and nothing else: pages and
// API answers, which carry money and personal data, always come from the
// network and are never stored. Offline, a page is the offline page.
"use strict";
const VERSION = "/*{{.Version}}*/";
const CACHE = "campuspay-m-shell-" + VERSION;
const SHELL = /*{{.Shell}}*/;
const OFFLINE = "/m/offline";

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim())
  );
});

self.addEventListener("fetch", (event) => {
  const req = event.request;
  if (req.method !== "GET") return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  if (SHELL.includes(url.pathname + url.search)) {
    event.respondWith(caches.match(req).then((hit) => hit || fetch(req)));
    return;
  }
  if (req.mode === "navigate") {
    // Network only; never put in the cache.
    event.respondWith(fetch(req).catch(() => caches.match(OFFLINE)));
  }
  // Anything else (API calls, order status): the network, untouched.
});
