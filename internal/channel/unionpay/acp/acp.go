// Package acp holds the wire primitives of UnionPay's online gateway
// (ACP 5.1.0, 全渠道): the signMethod 01 signature (SHA256withRSA over the
// hex SHA-256 of the sorted fields), certificate-chain verification of the
// signer, the k=v& encoding of synchronous responses, the response-code
// table, the settlement file's layout and packing, and certificate issuing
// helpers for the sandbox and tests. Both the channel adapter and the
// sandbox gateway use it, so that they agree on the protocol byte for byte.
package acp

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"campuspay/internal/payment"
)

// Field names used by the signature scheme.
const (
	FieldSignature      = "signature"
	FieldSignPubKeyCert = "signPubKeyCert"
	FieldCertID         = "certId"
)

// UnionPayOrg is the organisation element ([2] of the CN split on "@") that
// a gateway signing certificate must carry.
const UnionPayOrg = "中国银联股份有限公司"

// Trust is what a verifier trusts: the root certificates and the middle
// (intermediate) certificates a gateway signing certificate chains through.
type Trust struct {
	Roots   []*x509.Certificate
	Middles []*x509.Certificate
}

// SignString returns the canonical string that is hashed for a signature:
// non-empty fields except signature, keys in ASCII order, "k=v" joined by
// "&", values raw.
func SignString(fields map[string]string) string {
	return joinSorted(fields, func(k, v string) bool { return k != FieldSignature && v != "" })
}

// digest is SHA-256 of the lowercase hex SHA-256 of the sign string: the
// scheme signs the 64-character hex string, not the raw hash.
func digest(fields map[string]string) []byte {
	h := sha256.Sum256([]byte(SignString(fields)))
	hx := hex.EncodeToString(h[:])
	d := sha256.Sum256([]byte(hx))
	return d[:]
}

// Sign returns the base64 signature (signMethod 01) of fields with key.
// It panics only if key is nil; RSA signing with a valid key cannot fail.
func Sign(fields map[string]string, key *rsa.PrivateKey) string {
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, digest(fields))
	if err != nil {
		panic("acp: rsa sign: " + err.Error())
	}
	return base64.StdEncoding.EncodeToString(sig)
}

// SignFields sets fields[certId] to the certificate's id and
// fields[signature] to the signature, and returns fields.
func SignFields(fields map[string]string, cert *x509.Certificate, key *rsa.PrivateKey) map[string]string {
	fields[FieldCertID] = CertID(cert)
	delete(fields, FieldSignature)
	fields[FieldSignature] = Sign(fields, key)
	return fields
}

// VerifyWith checks the signature in fields against a known public key (the
// gateway's check of a merchant request by certId).
func VerifyWith(fields map[string]string, pub *rsa.PublicKey) error {
	sig, err := base64.StdEncoding.DecodeString(fields[FieldSignature])
	if err != nil || len(sig) == 0 {
		return fmt.Errorf("%w: signature is not base64", payment.ErrBadNotification)
	}
	if pub == nil {
		return fmt.Errorf("%w: no public key", payment.ErrBadNotification)
	}
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest(fields), sig); err != nil {
		return fmt.Errorf("%w: signature mismatch", payment.ErrBadNotification)
	}
	return nil
}

// Verify checks a message signed by the gateway at the current time; see
// VerifyAt.
func Verify(fields map[string]string, trust *Trust) error {
	return VerifyAt(fields, trust, time.Now())
}

// VerifyAt checks a message signed by the gateway: the signPubKeyCert it
// carries must be valid at now, chain to one of trust's roots through its
// middles, carry UnionPayOrg as CN element [2], and verify the signature.
// Every failure wraps payment.ErrBadNotification.
func VerifyAt(fields map[string]string, trust *Trust, now time.Time) error {
	if trust == nil || len(trust.Roots) == 0 {
		return fmt.Errorf("%w: no trusted roots configured", payment.ErrBadNotification)
	}
	pemText := fields[FieldSignPubKeyCert]
	key := chainKey{sha256.Sum256([]byte(pemText)), trust}
	if v, ok := verifiedChains.Load(key); ok {
		vc := v.(verifiedChain)
		if !now.Before(vc.notBefore) && !now.After(vc.notAfter) {
			return VerifyWith(fields, vc.pub)
		}
	}
	cert, err := ParseCertPEM(pemText)
	if err != nil {
		return fmt.Errorf("%w: signPubKeyCert: %v", payment.ErrBadNotification, err)
	}
	if now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
		return fmt.Errorf("%w: signing certificate not valid at %s", payment.ErrBadNotification, now.Format(time.RFC3339))
	}
	roots := x509.NewCertPool()
	for _, c := range trust.Roots {
		roots.AddCert(c)
	}
	mids := x509.NewCertPool()
	for _, c := range trust.Middles {
		mids.AddCert(c)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: mids, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return fmt.Errorf("%w: certificate chain: %v", payment.ErrBadNotification, err)
	}
	parts := strings.Split(cert.Subject.CommonName, "@")
	if len(parts) < 3 || parts[2] != UnionPayOrg {
		return fmt.Errorf("%w: signer CN %q is not UnionPay's", payment.ErrBadNotification, cert.Subject.CommonName)
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return fmt.Errorf("%w: signing key is not RSA", payment.ErrBadNotification)
	}
	if err := VerifyWith(fields, pub); err != nil {
		return err
	}
	verifiedChains.Store(key, verifiedChain{pub: pub, notBefore: cert.NotBefore, notAfter: cert.NotAfter})
	return nil
}

// verifiedChains remembers signing certificates whose chain to a Trust was
// verified, so each message costs one RSA verification, not a chain walk.
// Only certificates that chained to our roots and signed a valid message
// are kept, so the cache holds the channel's few signers and nothing else.
var verifiedChains sync.Map // chainKey → verifiedChain

type chainKey struct {
	pem   [32]byte
	trust *Trust
}

type verifiedChain struct {
	pub                 *rsa.PublicKey
	notBefore, notAfter time.Time
}

// CertID is the certId of a certificate: its serial number in decimal.
func CertID(cert *x509.Certificate) string {
	return cert.SerialNumber.String()
}

// CertPEM encodes a certificate as PEM text.
func CertPEM(cert *x509.Certificate) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}))
}

// ParseCertPEM decodes one PEM certificate.
func ParseCertPEM(s string) (*x509.Certificate, error) {
	if s == "" {
		return nil, errors.New("missing")
	}
	block, _ := pem.Decode([]byte(s))
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("not a PEM certificate")
	}
	return x509.ParseCertificate(block.Bytes)
}

// EncodeKV encodes fields as a synchronous response body: "k=v&..." with
// keys sorted and raw, unescaped values.
func EncodeKV(fields map[string]string) string {
	return joinSorted(fields, func(string, string) bool { return true })
}

// joinSorted joins the fields keep accepts as k=v&…, keys in ASCII order,
// values raw: the form of both the sign string and synchronous bodies.
func joinSorted(fields map[string]string, keep func(k, v string) bool) string {
	keys := make([]string, 0, len(fields))
	for k, v := range fields {
		if keep(k, v) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(fields[k])
	}
	return b.String()
}

// ErrBadKV is returned by ParseKV for a body that is not k=v&... text.
var ErrBadKV = errors.New("acp: malformed k=v response")

// ParseKV decodes a synchronous response: split on "&", then each pair on
// its first "=". Values may contain "=", "+", "/" and newlines (PEM,
// base64), never "&". Empty pairs are skipped; a pair without "=", an empty
// key or a repeated key is an error.
func ParseKV(s string) (map[string]string, error) {
	out := make(map[string]string)
	if s == "" {
		return out, nil
	}
	for pair := range strings.SplitSeq(s, "&") {
		if pair == "" {
			continue
		}
		k, v, ok := strings.Cut(pair, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%w: pair %.40q", ErrBadKV, pair)
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("%w: repeated key %.40q", ErrBadKV, k)
		}
		out[k] = v
	}
	return out, nil
}
