// Package audit is the tamper-evident record of who changed what (SPEC §7):
// every staff action and every money change, append-only, each row
// hashing the previous one of its chain, so that an edited, deleted or
// reordered row is found by Verify.
//
// There is one chain per school (Chain = the school's id) and one for the
// platform (Chain 0): a school's staff never wait on another school's
// rows, and a school's auditor can verify the school's chain alone. Rows
// of a chain are numbered 1, 2, 3 …; row n stores the hash of row n-1.
//
// Money the channels move (payments applied by the payment service) is
// already recorded in the append-only journal in the same transaction;
// the platform chain seals the journal in batches (Seal rows carrying a
// digest of every entry in a range of ids, per school), so that the
// payment path writes nothing more and locks no shared row. The package
// is pure: it knows neither SQL nor HTTP.
package audit

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"hash"
	"strconv"
	"time"
)

// PlatformChain is the chain of actions no school owns (schools, operators,
// journal seals).
const PlatformChain int64 = 0

// Record is one row of the audit log.
type Record struct {
	ID       int64 // the database's row id (not hashed)
	Chain    int64 // the school's id, or PlatformChain
	Seq      int64 // 1, 2, 3 … within the chain
	At       time.Time
	ActorID  int64  // staff id; 0 for the platform itself
	Actor    string // username, or "system"
	Role     string
	Action   string // e.g. "policy.update" (the Action* constants)
	Target   string // what was acted on, e.g. "student:2026010001"
	SchoolID int64  // the school concerned, 0 for none
	Client   string // where the request came from (IP address)
	Before   string // canonical JSON of the state before, or ""
	After    string // canonical JSON of the state after, or ""
	PrevHash string // hex SHA-256 of the previous row, "" for the first
	Hash     string // hex SHA-256 of this row (Hash)
}

// version starts every hashed message, so that another encoding can never
// produce the same bytes.
const version = "campuspay-audit-v1"

// Hash computes a row's hash from the previous row's hash and the row's
// canonical fields: SHA-256 over a version tag and every field as a
// length-prefixed string, so that no two different rows share an
// encoding. ID and Hash itself are not part of it; r.PrevHash is ignored
// in favour of prev.
func Hash(prev string, r Record) string {
	h := sha256.New()
	field(h, version)
	for _, s := range []string{
		strconv.FormatInt(r.Chain, 10), strconv.FormatInt(r.Seq, 10), strconv.FormatInt(r.At.UnixMilli(), 10),
		strconv.FormatInt(r.ActorID, 10), r.Actor, r.Role, r.Action, r.Target, strconv.FormatInt(r.SchoolID, 10),
		r.Client, r.Before, r.After, prev,
	} {
		field(h, s)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// field writes a length-prefixed string.
func field(h hash.Hash, s string) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(s)))
	h.Write(n[:])
	h.Write([]byte(s))
}

// Link sets r's place in its chain after the row whose seq and hash are
// given (0 and "" for an empty chain) and computes its hash.
func Link(r Record, prevSeq int64, prevHash string) Record {
	r.Seq = prevSeq + 1
	r.PrevHash = prevHash
	r.At = r.At.Truncate(time.Millisecond)
	r.Hash = Hash(prevHash, r)
	return r
}

// State renders a before or after state as canonical JSON (encoding/json
// sorts map keys; structs keep their field order). nil is "".
func State(v any) string {
	if v == nil {
		return ""
	}
	b, err := json.Marshal(v)
	if err != nil {
		return `{"error":"unrenderable state"}`
	}
	return string(b)
}

// Break is the first row at which a chain stops being intact.
type Break struct {
	Chain  int64
	Seq    int64
	ID     int64 // the row's id, 0 when the row is missing
	Reason string
}

// Error names the row and says what is wrong with it.
func (b *Break) Error() string {
	return "audit chain " + strconv.FormatInt(b.Chain, 10) + " broken at seq " + strconv.FormatInt(b.Seq, 10) +
		" (row id " + strconv.FormatInt(b.ID, 10) + "): " + b.Reason
}

// Checker walks one chain in seq order and reports the first break.
type Checker struct {
	Chain    int64
	lastSeq  int64
	lastHash string
	Rows     int
}

// Next checks the next row of the chain (rows must come in seq order):
// its number follows the last, it names the last row's hash, and its own
// hash is what its fields give.
func (c *Checker) Next(r Record) *Break {
	switch {
	case r.Chain != c.Chain:
		return &Break{Chain: c.Chain, Seq: r.Seq, ID: r.ID, Reason: "row belongs to chain " + strconv.FormatInt(r.Chain, 10)}
	case r.Seq != c.lastSeq+1:
		return &Break{Chain: c.Chain, Seq: c.lastSeq + 1, ID: r.ID,
			Reason: "row " + strconv.FormatInt(c.lastSeq+1, 10) + " is missing or out of order (found seq " + strconv.FormatInt(r.Seq, 10) + ")"}
	case r.PrevHash != c.lastHash:
		return &Break{Chain: c.Chain, Seq: r.Seq, ID: r.ID, Reason: "previous-hash does not match the previous row (a row before it was changed, removed or reordered)"}
	case Hash(r.PrevHash, r) != r.Hash:
		return &Break{Chain: c.Chain, Seq: r.Seq, ID: r.ID, Reason: "row content does not match its hash (the row was edited)"}
	}
	c.lastSeq, c.lastHash = r.Seq, r.Hash
	c.Rows++
	return nil
}

// End checks that the chain ends where its head says: rows cut off the end
// leave the head ahead of the last row.
func (c *Checker) End(headSeq int64, headHash string) *Break {
	if headSeq != c.lastSeq || headHash != c.lastHash {
		return &Break{Chain: c.Chain, Seq: c.lastSeq + 1, Reason: "the chain's head names seq " + strconv.FormatInt(headSeq, 10) +
			" but the rows end at seq " + strconv.FormatInt(c.lastSeq, 10) + " (rows were removed from the end)"}
	}
	return nil
}
