package acp

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"time"
)

// Issuer is a certificate with its private key: a root or middle that signs
// other certificates, or a signing certificate for messages.
type Issuer struct {
	Cert *x509.Certificate
	Key  *rsa.PrivateKey
}

// Validity bounds for issued certificates; the zero value means "from an
// hour ago, for ten years".
type Validity struct {
	NotBefore, NotAfter time.Time
}

func (v Validity) bounds() (time.Time, time.Time) {
	nb, na := v.NotBefore, v.NotAfter
	if nb.IsZero() {
		nb = time.Now().Add(-time.Hour)
	}
	if na.IsZero() {
		na = nb.AddDate(10, 0, 0)
	}
	return nb, na
}

func serial() (*big.Int, error) {
	// 63 random bits: positive, and prints as a decimal certId.
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 63))
}

func issue(parent *Issuer, cn string, ca bool, v Validity) (*Issuer, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	sn, err := serial()
	if err != nil {
		return nil, err
	}
	nb, na := v.bounds()
	tpl := &x509.Certificate{
		SerialNumber:       sn,
		Subject:            pkix.Name{CommonName: cn, Organization: []string{"China UnionPay (sandbox)"}, Country: []string{"CN"}},
		NotBefore:          nb,
		NotAfter:           na,
		SignatureAlgorithm: x509.SHA256WithRSA,
	}
	if ca {
		tpl.IsCA = true
		tpl.BasicConstraintsValid = true
		tpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	} else {
		tpl.BasicConstraintsValid = true
		tpl.KeyUsage = x509.KeyUsageDigitalSignature
	}
	signer, signerCert := key, tpl
	if parent != nil {
		signer, signerCert = parent.Key, parent.Cert
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, signerCert, &key.PublicKey, signer)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &Issuer{Cert: cert, Key: key}, nil
}

// NewRoot issues a self-signed RSA-2048, SHA-256 root certificate.
func NewRoot(cn string) (*Issuer, error) { return issue(nil, cn, true, Validity{}) }

// NewMiddle issues a middle (intermediate) CA certificate under root.
func NewMiddle(root *Issuer, cn string) (*Issuer, error) { return issue(root, cn, true, Validity{}) }

// NewSigningCert issues an end-entity signing certificate under middle,
// e.g. with CN "041@Z12400000@中国银联股份有限公司@00000001" for a gateway.
func NewSigningCert(middle *Issuer, cn string) (*Issuer, error) {
	return issue(middle, cn, false, Validity{})
}

// NewSigningCertValid is NewSigningCert with explicit validity bounds (for
// tests of expired or not-yet-valid certificates).
func NewSigningCertValid(middle *Issuer, cn string, v Validity) (*Issuer, error) {
	return issue(middle, cn, false, v)
}

// GatewayCN is the subject CN of a sandbox gateway signing certificate.
const GatewayCN = "041@Z12400000@" + UnionPayOrg + "@00000001"
