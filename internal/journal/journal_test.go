package journal

import "testing"

func TestEntryCheck(t *testing.T) {
	cases := []struct {
		name string
		e    Entry
		ok   bool
	}{
		{"a transfer balances", Transfer(1, KindBill, "r", "", Receivable(2), Revenue(1), 580000), true},
		{"a negative transfer swaps sides and balances", Transfer(1, KindAdjust, "r", "", Receivable(2), Revenue(1), -100), true},
		{"one posting is refused", Entry{Kind: "x", Postings: []Posting{{"a", 1}}}, false},
		{"an unbalanced entry is refused", Entry{Kind: "x", Postings: []Posting{{"a", 1}, {"b", -2}}}, false},
		{"a zero posting is refused", Entry{Kind: "x", Postings: []Posting{{"a", 0}, {"b", 0}}}, false},
		{"three postings that balance pass", Entry{Kind: "x", Postings: []Posting{{"a", 3}, {"b", -1}, {"c", -2}}}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.e.Check(); (err == nil) != c.ok {
				t.Fatalf("Check() = %v, want ok=%v", err, c.ok)
			}
		})
	}
	e := Transfer(1, KindAdjust, "r", "", "d", "c", -100)
	if e.Postings[0].Account != "c" || e.Postings[0].Amount != 100 {
		t.Fatalf("negative transfer not swapped: %+v", e.Postings)
	}
}
