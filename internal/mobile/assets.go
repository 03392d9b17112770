package mobile

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"io/fs"
	"net/http"
	"strconv"
	"text/template"
)

// The shell: what the service worker caches, and nothing else. Every URL
// carries the assets' version, so a new release is a new cache.
var (
	assetFiles = map[string][]byte{}                               // name → bytes
	assetTypes = map[string]string{}                               // name → Content-Type
	version    string                                              // of every asset together
	swJS       []byte                                              // the service worker, with the version and shell
	manifestJS []byte                                              // the web manifest
	iconSizes  = []int{192, 512}                                   // PNG icons, maskable
	shellPages = []string{"/m/offline", "/m/manifest.webmanifest"} // cached pages without data
)

func init() {
	for _, name := range []string{"app.css", "app.js"} {
		b, err := fs.ReadFile(files, "assets/"+name)
		if err != nil {
			panic(err)
		}
		assetFiles[name] = b
	}
	assetTypes["app.css"] = "text/css; charset=utf-8"
	assetTypes["app.js"] = "text/javascript; charset=utf-8"
	for _, n := range iconSizes {
		name := "icon-" + strconv.Itoa(n) + ".png"
		assetFiles[name] = icon(n)
		assetTypes[name] = "image/png"
	}
	// The version covers everything the worker caches or is: the assets,
	// the offline page and its layout, the manifest's fields, the worker.
	h := sha256.New()
	for _, name := range []string{"app.css", "app.js", "icon-192.png", "icon-512.png"} {
		h.Write(assetFiles[name])
	}
	for _, f := range []string{"templates/layout.html", "templates/offline.html", "assets/sw.js"} {
		b, err := fs.ReadFile(files, f)
		if err != nil {
			panic(err)
		}
		h.Write(b)
	}
	fields := map[string]any{
		"name": "校园缴费", "short_name": "校园缴费", "description": "学费及校园费用手机缴费",
		"lang": "zh-CN", "dir": "ltr", "start_url": "/m/", "scope": "/m/", "id": "/m/",
		"display": "standalone", "orientation": "portrait", "background_color": "#f3f5f8", "theme_color": "#0b4f9c",
	}
	fj, _ := json.Marshal(fields)
	h.Write(fj)
	version = hex.EncodeToString(h.Sum(nil))[:12]

	var icons []map[string]string
	for _, n := range iconSizes {
		icons = append(icons, map[string]string{"src": assetURL("icon-" + strconv.Itoa(n) + ".png"), "sizes": strconv.Itoa(n) + "x" + strconv.Itoa(n),
			"type": "image/png", "purpose": "any maskable"})
	}
	fields["icons"] = icons
	m, err := json.MarshalIndent(fields, "", "  ")
	if err != nil {
		panic(err)
	}
	manifestJS = m

	src, err := fs.ReadFile(files, "assets/sw.js")
	if err != nil {
		panic(err)
	}
	shell := append([]string{}, shellPages...)
	for _, name := range []string{"app.css", "app.js", "icon-192.png", "icon-512.png"} {
		shell = append(shell, assetURL(name))
	}
	list, _ := json.Marshal(shell)
	var buf bytes.Buffer
	template.Must(template.New("sw").Delims("/*{{", "}}*/").Parse(string(src))).Execute(&buf, map[string]string{
		"Version": version, "Shell": string(list)})
	swJS = buf.Bytes()
}

// assetURL is an asset's URL with the version, for pages and the shell.
func assetURL(name string) string { return "/m/assets/" + name + "?v=" + version }

// asset serves the stylesheet, the script and the icons: the same for
// everyone, cached a day by the browser (the version in the URL changes
// with them) and by the service worker.
func (h *handler) asset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	b, ok := assetFiles[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", assetTypes[name])
	w.Header().Set("Cache-Control", "public, max-age=86400")
	w.Write(b)
}

// manifest serves the web manifest that makes the app installable.
func (h *handler) manifest(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/manifest+json")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(manifestJS)
}

// serviceWorker serves the worker; the browser checks it at every visit.
func (h *handler) serviceWorker(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Service-Worker-Allowed", "/m/")
	w.Write(swJS)
}

// offline is the page the worker shows for a page it cannot fetch: it
// holds no data, so it may be cached.
func (h *handler) offline(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-cache")
	h.render(w, http.StatusOK, "offline", layout{Title: "网络不可用"})
}

// icon draws the app's icon: a debit card on the platform's blue, inside
// the middle 80% so that a maskable crop keeps all of it.
func icon(size int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, size, size))
	blue := color.RGBA{0x0b, 0x4f, 0x9c, 0xff}
	white := color.RGBA{0xff, 0xff, 0xff, 0xff}
	gold := color.RGBA{0xf2, 0xb7, 0x05, 0xff}
	fill := func(x0, y0, x1, y1 int, c color.RGBA, radius int) {
		for y := y0; y < y1; y++ {
			for x := x0; x < x1; x++ {
				dx, dy := 0, 0
				switch {
				case x < x0+radius:
					dx = x0 + radius - x
				case x >= x1-radius:
					dx = x - (x1 - radius - 1)
				}
				switch {
				case y < y0+radius:
					dy = y0 + radius - y
				case y >= y1-radius:
					dy = y - (y1 - radius - 1)
				}
				if dx*dx+dy*dy <= radius*radius {
					img.SetRGBA(x, y, c)
				}
			}
		}
	}
	fill(0, 0, size, size, blue, 0)
	u := size / 32
	fill(6*u, 9*u, 26*u, 23*u, white, 2*u)   // the card
	fill(6*u, 12*u, 26*u, 15*u, blue, 0)     // its stripe
	fill(9*u, 17*u, 14*u, 21*u, gold, u/2+1) // the chip
	fill(17*u, 19*u, 23*u, 20*u, blue, 0)    // the number
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		panic(err)
	}
	return buf.Bytes()
}
