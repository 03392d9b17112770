package sms

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// tc3Algorithm is Tencent Cloud API 3.0's signature method.
const tc3Algorithm = "TC3-HMAC-SHA256"

// tc3Request is what a TC3-HMAC-SHA256 signature covers.
type tc3Request struct {
	Method      string // "POST"
	Query       string // canonical query string; "" for POST
	Host        string // Host header as sent (with port when not default)
	ContentType string // Content-Type header as sent
	Action      string // X-TC-Action; signed as x-tc-action when non-empty
	Payload     []byte
	Service     string // product, e.g. "sms"
	Timestamp   int64  // X-TC-Timestamp, Unix seconds
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// signedHeaders returns the canonical header block and the signed header list.
func (r tc3Request) signedHeaders() (canonical, names string) {
	canonical = "content-type:" + strings.ToLower(strings.TrimSpace(r.ContentType)) + "\n" +
		"host:" + strings.ToLower(strings.TrimSpace(r.Host)) + "\n"
	names = "content-type;host"
	if r.Action != "" {
		canonical += "x-tc-action:" + strings.ToLower(r.Action) + "\n"
		names += ";x-tc-action"
	}
	return canonical, names
}

// canonicalRequest is step 1 of the documented algorithm.
func (r tc3Request) canonicalRequest() string {
	headers, names := r.signedHeaders()
	return r.Method + "\n/\n" + r.Query + "\n" + headers + "\n" + names + "\n" + sha256Hex(r.Payload)
}

// date is the UTC date of the timestamp, as the credential scope wants it.
func (r tc3Request) date() string { return time.Unix(r.Timestamp, 0).UTC().Format("2006-01-02") }

func (r tc3Request) scope() string { return r.date() + "/" + r.Service + "/tc3_request" }

// stringToSign is step 2.
func (r tc3Request) stringToSign() string {
	return tc3Algorithm + "\n" + strconv.FormatInt(r.Timestamp, 10) + "\n" + r.scope() + "\n" + sha256Hex([]byte(r.canonicalRequest()))
}

// signature is step 3: keys derived from "TC3"+SecretKey, date, service, "tc3_request".
func (r tc3Request) signature(secretKey string) string {
	k := hmacSHA256([]byte("TC3"+secretKey), r.date())
	k = hmacSHA256(k, r.Service)
	k = hmacSHA256(k, "tc3_request")
	return hex.EncodeToString(hmacSHA256(k, r.stringToSign()))
}

// authorization is step 4, the Authorization header's value.
func (r tc3Request) authorization(secretID, secretKey string) string {
	_, names := r.signedHeaders()
	return tc3Algorithm + " Credential=" + secretID + "/" + r.scope() +
		", SignedHeaders=" + names + ", Signature=" + r.signature(secretKey)
}
