package console

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"campuspay/internal/admin"
	"campuspay/internal/adminapi"
	"campuspay/internal/billing"
	"campuspay/internal/board"
	"campuspay/internal/money"
)

type boardPage struct {
	layout
	V         admin.BoardView
	Query     string // the filter as a query string, for the live refresh and exports
	LiveEvery int    // milliseconds
	Chart     chart
	ProjectID string
	CanExport bool
	// Recon is each channel's latest reconciliation (nil: not shown).
	Recon []reconRow
}

// chart is the payments-per-hour chart, laid out for an SVG.
type chart struct {
	Width, Height int
	Bars          []bar
	Max           string // the tallest bar's amount, for the axis
	Total         string
	Payments      int
	Ticks         []tick
}

type bar struct {
	X, Y, W, H float64
	Title      string
}

type tick struct {
	X     float64
	Label string
}

// chartOf lays the hours out as bars (amount per hour), oldest on the left.
func chartOf(hours []admin.Hour) chart {
	c := chart{Width: 720, Height: 160}
	var max money.Fen
	var total money.Fen
	for _, h := range hours {
		if h.Amount > max {
			max = h.Amount
		}
		total += h.Amount
		c.Payments += h.Payments
	}
	c.Max, c.Total = yuanText(int64(max)), yuanText(int64(total))
	if len(hours) == 0 {
		return c
	}
	plot := float64(c.Height - 20)
	w := float64(c.Width) / float64(len(hours))
	for i, h := range hours {
		height := 0.0
		if max > 0 && h.Amount > 0 {
			height = max1(plot*float64(h.Amount)/float64(max), 1)
		}
		x := float64(i) * w
		c.Bars = append(c.Bars, bar{X: x + 1, Y: plot - height, W: w - 2, H: height,
			Title: fmt.Sprintf("%s 时：%d 笔，%s 元", h.Start.In(beijing).Format("01-02 15"), h.Payments, yuanText(int64(h.Amount)))})
		if t := h.Start.In(beijing); t.Hour() == 0 {
			c.Ticks = append(c.Ticks, tick{X: x, Label: t.Format("01-02")})
		}
	}
	return c
}

func max1(a, b float64) float64 {
	if a > b {
		return a
	}
	return b
}

// yuanText formats fen as yuan with thousands separators: 1,234,567.89.
func yuanText(f int64) string {
	s := money.Fen(f).Yuan()
	neg := s[0] == '-'
	if neg {
		s = s[1:]
	}
	intPart, frac := s[:len(s)-3], s[len(s)-3:]
	var out []byte
	for i := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, intPart[i])
	}
	if neg {
		return "-" + string(out) + frac
	}
	return string(out) + frac
}

// yuanAny formats an amount of fen (money.Fen or int64) for a page.
func yuanAny(v any) string {
	switch x := v.(type) {
	case money.Fen:
		return yuanText(int64(x))
	case int64:
		return yuanText(x)
	case int:
		return yuanText(int64(x))
	}
	return ""
}

// pct is a share as a percentage with one decimal.
func pct(part, whole any) string {
	p, w := toF(part), toF(whole)
	if w == 0 {
		return "—"
	}
	return strconv.FormatFloat(100*p/w, 'f', 1, 64) + "%"
}

func toF(v any) float64 {
	switch x := v.(type) {
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case money.Fen:
		return float64(x)
	}
	return 0
}

func (h *handler) boardView(w http.ResponseWriter, r *http.Request, p admin.Principal, sc billing.School) (boardPage, bool) {
	all, err := h.Admin.Board(r.Context(), p, sc.ID, board.Filter{})
	if err != nil {
		h.fail(w, r, &p, err)
		return boardPage{}, false
	}
	f := adminapi.Filter(r.URL.Query(), all.Projects)
	v := all
	if f != (board.Filter{}) {
		if v, err = h.Admin.Board(r.Context(), p, sc.ID, f); err != nil {
			h.fail(w, r, &p, err)
			return boardPage{}, false
		}
	}
	q := url.Values{}
	for k, val := range map[string]string{"grade": f.Grade, "major": f.Major, "class": f.Class} {
		if val != "" {
			q.Set(k, val)
		}
	}
	pid := ""
	if f.ProjectID > 0 {
		pid = strconv.FormatInt(f.ProjectID, 10)
		q.Set("project", pid)
	}
	pg := boardPage{layout: layoutOf(p, sc, "收费看板", "board"), V: v, Query: q.Encode(), LiveEvery: int(h.LiveEvery.Milliseconds()),
		Chart: chartOf(v.Hours), ProjectID: pid, CanExport: p.Can(admin.PermExport, sc.ID)}
	pg.Script = true
	return pg, true
}

func (h *handler) board(w http.ResponseWriter, r *http.Request, p admin.Principal, sc billing.School) {
	if pg, ok := h.boardView(w, r, p, sc); ok {
		pg.Recon = h.boardReconciliations(r, p, sc)
		h.render(w, http.StatusOK, "board", "", pg)
	}
}

// boardLive is the board's figures alone, which the page fetches every
// few seconds and puts in place.
func (h *handler) boardLive(w http.ResponseWriter, r *http.Request, p admin.Principal, sc billing.School) {
	if pg, ok := h.boardView(w, r, p, sc); ok {
		h.render(w, http.StatusOK, "board", "live", pg)
	}
}
