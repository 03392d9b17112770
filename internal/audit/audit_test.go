package audit

import (
	"strings"
	"testing"
	"time"

	"campuspay/internal/journal"
	"campuspay/internal/money"
)

var t0 = time.Date(2026, 8, 28, 9, 0, 0, 0, time.UTC)

func rec(action string) Record {
	return Record{Chain: 7, At: t0, ActorID: 3, Actor: "cw_li", Role: "admin", Action: action, Target: "school:7",
		SchoolID: 7, Client: "10.0.0.8", Before: `{"lock_minutes":10}`, After: `{"lock_minutes":15}`}
}

// chain links n records of chain 7.
func chain(n int) []Record {
	var out []Record
	seq, prev := int64(0), ""
	for i := 0; i < n; i++ {
		r := Link(rec("policy.update"), seq, prev)
		r.ID = int64(100 + i)
		out = append(out, r)
		seq, prev = r.Seq, r.Hash
	}
	return out
}

func TestHash(t *testing.T) {
	base := rec("policy.update")
	h := Hash("", base)
	if len(h) != 64 || Hash("", base) != h {
		t.Fatalf("hash %q is not a stable hex SHA-256", h)
	}
	t.Run("every_hashed_field_changes_the_hash", func(t *testing.T) {
		for name, edit := range map[string]func(*Record){
			"chain": func(r *Record) { r.Chain = 8 }, "seq": func(r *Record) { r.Seq = 2 },
			"at": func(r *Record) { r.At = r.At.Add(time.Millisecond) }, "actor id": func(r *Record) { r.ActorID = 4 },
			"actor": func(r *Record) { r.Actor = "cw_wang" }, "role": func(r *Record) { r.Role = "clerk" },
			"action": func(r *Record) { r.Action = "staff.create" }, "target": func(r *Record) { r.Target = "school:8" },
			"school": func(r *Record) { r.SchoolID = 8 }, "client": func(r *Record) { r.Client = "10.0.0.9" },
			"before": func(r *Record) { r.Before = `{"lock_minutes":11}` }, "after": func(r *Record) { r.After = "" },
		} {
			r := base
			edit(&r)
			if Hash("", r) == h {
				t.Errorf("changing %s leaves the hash as it was", name)
			}
		}
		if Hash(strings.Repeat("0", 64), base) == h {
			t.Error("the previous hash is not part of the hash")
		}
	})
	t.Run("fields_are_length-prefixed_so_moving_a_boundary_changes_the_hash", func(t *testing.T) {
		a, b := base, base
		a.Actor, a.Role = "ab", "c"
		b.Actor, b.Role = "a", "bc"
		if Hash("", a) == Hash("", b) {
			t.Error("actor|role boundary is not encoded")
		}
	})
	t.Run("the_row_id_and_stored_hash_are_not_hashed", func(t *testing.T) {
		r := base
		r.ID, r.Hash, r.PrevHash = 99, "x", "y"
		if Hash("", r) != h {
			t.Error("id, hash or stored prev hash changed the hash")
		}
	})
}

func TestChecker(t *testing.T) {
	check := func(rows []Record, headSeq int64, headHash string) *Break {
		c := &Checker{Chain: 7}
		for _, r := range rows {
			if b := c.Next(r); b != nil {
				return b
			}
		}
		return c.End(headSeq, headHash)
	}
	good := chain(5)
	head := good[4]
	if b := check(good, head.Seq, head.Hash); b != nil {
		t.Fatalf("an intact chain is broken: %v", b)
	}
	for _, tc := range []struct {
		name   string
		rows   func() []Record
		seq    int64
		reason string
	}{
		{"an edited row is named", func() []Record {
			rows := chain(5)
			rows[2].After = `{"lock_minutes":60}`
			return rows
		}, 3, "edited"},
		{"a deleted row is named by its number", func() []Record {
			rows := chain(5)
			return append(rows[:2:2], rows[3:]...)
		}, 3, "missing"},
		{"two swapped rows are found", func() []Record {
			rows := chain(5)
			rows[1], rows[2] = rows[2], rows[1]
			return rows
		}, 2, "missing or out of order"},
		{"a row rehashed after an edit breaks the next one", func() []Record {
			rows := chain(5)
			rows[1].After = `{"lock_minutes":60}`
			rows[1].Hash = Hash(rows[1].PrevHash, rows[1])
			return rows
		}, 3, "previous-hash"},
		{"rows cut off the end are found by the head", func() []Record { return chain(5)[:3] }, 4, "removed from the end"},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			b := check(tc.rows(), head.Seq, head.Hash)
			if b == nil {
				t.Fatal("not detected")
			}
			if b.Seq != tc.seq || !strings.Contains(b.Reason, tc.reason) {
				t.Errorf("break %+v, want seq %d and a reason with %q", b, tc.seq, tc.reason)
			}
		})
	}
}

func entry(id, school int64, amount money.Fen) journal.Entry {
	e := journal.Transfer(school, journal.KindPayment, "ORD"+string(rune('A'+id)), "缴费", journal.Clearing("wechat", school), journal.Receivable(1), amount)
	e.ID = id
	return e
}

func TestSeal(t *testing.T) {
	seal := func(es ...journal.Entry) Seal {
		s := NewSealer(10, 20)
		for _, e := range es {
			s.Add(e, t0)
		}
		out, err := s.Seal()
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	want := seal(entry(11, 1, 500), entry(12, 2, 700), entry(15, 1, 900))
	if ids := want.SchoolIDs(); len(ids) != 2 || ids[0] != 1 || ids[1] != 2 || want.Schools["1"].Entries != 2 {
		t.Fatalf("seal %+v", want)
	}
	if d := CompareSeal(want, seal(entry(11, 1, 500), entry(12, 2, 700), entry(15, 1, 900))); d != "" {
		t.Errorf("the same entries differ: %s", d)
	}
	for name, got := range map[string]Seal{
		"an amount changed":        seal(entry(11, 1, 500), entry(12, 2, 701), entry(15, 1, 900)),
		"an entry removed":         seal(entry(11, 1, 500), entry(15, 1, 900)),
		"an entry inserted":        seal(entry(11, 1, 500), entry(12, 2, 700), entry(13, 2, 1), entry(15, 1, 900)),
		"an entry moved to school": seal(entry(11, 1, 500), entry(12, 1, 700), entry(15, 1, 900)),
	} {
		if CompareSeal(want, got) == "" {
			t.Errorf("%s: not detected", name)
		}
	}
	s := NewSealer(10, 20)
	s.Add(entry(12, 1, 1), t0)
	s.Add(entry(11, 1, 1), t0)
	if _, err := s.Seal(); err == nil {
		t.Error("entries out of order were accepted")
	}
	back, err := ParseSeal(State(want))
	if err != nil || CompareSeal(want, back) != "" {
		t.Errorf("a seal does not survive its JSON: %v", err)
	}
}
