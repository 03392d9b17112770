package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"sort"
	"strconv"
	"time"

	"campuspay/internal/journal"
)

// ActionSeal is the platform chain's row that seals a range of journal
// entries: the money changes the channels made (payments, overpayments,
// refunds, suspense) and those of imports, all at once.
const ActionSeal = "journal.seal"

// Seal is what a seal row records (its After): the range of journal entry
// ids (From, To] and, per school that has entries in it, their count and
// digest. School 0 is the platform's own entries.
type Seal struct {
	From    int64                 `json:"from"`
	To      int64                 `json:"to"`
	Schools map[string]SealDigest `json:"schools"`
}

// SealDigest is one school's part of a seal.
type SealDigest struct {
	Entries int    `json:"entries"`
	Digest  string `json:"digest"`
}

// Sealer digests journal entries per school, in id order.
type Sealer struct {
	from, to int64
	last     int64
	per      map[int64]hash.Hash
	counts   map[int64]int
	err      error
}

// NewSealer starts a seal of the entries with ids in (from, to].
func NewSealer(from, to int64) *Sealer {
	return &Sealer{from: from, to: to, last: from, per: map[int64]hash.Hash{}, counts: map[int64]int{}}
}

// Add digests one entry and its postings (in posting order). Entries must
// come in increasing id order and inside the range.
func (s *Sealer) Add(e journal.Entry, createdAt time.Time) {
	if s.err != nil {
		return
	}
	if e.ID <= s.last || e.ID > s.to {
		s.err = fmt.Errorf("audit: journal entry %d out of order or outside (%d, %d]", e.ID, s.from, s.to)
		return
	}
	s.last = e.ID
	h, ok := s.per[e.SchoolID]
	if !ok {
		h = sha256.New()
		field(h, version+"/journal")
		s.per[e.SchoolID] = h
	}
	for _, f := range []string{strconv.FormatInt(e.ID, 10), strconv.FormatInt(e.SchoolID, 10), e.Kind, e.Ref, e.Memo,
		strconv.FormatInt(createdAt.UnixMilli(), 10), strconv.Itoa(len(e.Postings))} {
		field(h, f)
	}
	for _, p := range e.Postings {
		field(h, p.Account)
		field(h, strconv.FormatInt(int64(p.Amount), 10))
	}
	s.counts[e.SchoolID]++
}

// Seal returns the seal of what was added, or the first ordering error.
func (s *Sealer) Seal() (Seal, error) {
	out := Seal{From: s.from, To: s.to, Schools: map[string]SealDigest{}}
	for id, h := range s.per {
		out.Schools[strconv.FormatInt(id, 10)] = SealDigest{Entries: s.counts[id], Digest: hex.EncodeToString(h.Sum(nil))}
	}
	return out, s.err
}

// SchoolIDs lists the schools of a seal in id order.
func (s Seal) SchoolIDs() []int64 {
	var ids []int64
	for k := range s.Schools {
		id, _ := strconv.ParseInt(k, 10, 64)
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// ParseSeal reads a seal row's After.
func ParseSeal(after string) (Seal, error) {
	var s Seal
	if err := json.Unmarshal([]byte(after), &s); err != nil {
		return s, fmt.Errorf("audit: seal: %w", err)
	}
	return s, nil
}

// CompareSeal says how the journal as it is now (got) differs from what
// was sealed (want), or "" when it does not.
func CompareSeal(want, got Seal) string {
	if want.From != got.From || want.To != got.To {
		return fmt.Sprintf("seal covers (%d, %d] but was recomputed over (%d, %d]", want.From, want.To, got.From, got.To)
	}
	keys := map[string]bool{}
	for k := range want.Schools {
		keys[k] = true
	}
	for k := range got.Schools {
		keys[k] = true
	}
	ks := make([]string, 0, len(keys))
	for k := range keys {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	for _, k := range ks {
		w, g := want.Schools[k], got.Schools[k]
		if w != g {
			return fmt.Sprintf("journal entries %d–%d of school %s changed: sealed %d entries (digest %.12s…), found %d (digest %.12s…)",
				want.From+1, want.To, k, w.Entries, w.Digest, g.Entries, g.Digest)
		}
	}
	return ""
}
