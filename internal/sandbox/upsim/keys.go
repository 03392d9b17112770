package upsim

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"

	"campuspay/internal/channel/unionpay"
	"campuspay/internal/channel/unionpay/acp"
)

// DefaultMerID is the sandbox merchant number.
const DefaultMerID = "777290058110097"

// Keys is the sandbox's certificate world: a root and middle (the
// adapter's trust), the gateway's signing certificate and key, and the one
// merchant the gateway knows with its certificate and key.
type Keys struct {
	Root, Middle *x509.Certificate
	GatewayCert  *x509.Certificate
	GatewayKey   *rsa.PrivateKey
	MerID        string
	MerchantCert *x509.Certificate
	MerchantKey  *rsa.PrivateKey
}

// NewKeys issues a fresh chain (four RSA-2048 keys: slow, about a second).
func NewKeys() (*Keys, error) {
	root, err := acp.NewRoot("CFCA TEST ROOT (campuspay sandbox)")
	if err != nil {
		return nil, err
	}
	mid, err := acp.NewMiddle(root, "CFCA TEST OCA1 (campuspay sandbox)")
	if err != nil {
		return nil, err
	}
	gw, err := acp.NewSigningCert(mid, acp.GatewayCN)
	if err != nil {
		return nil, err
	}
	mer, err := acp.NewSigningCert(mid, "041@Z"+DefaultMerID+"@campuspay@00000002")
	if err != nil {
		return nil, err
	}
	return &Keys{Root: root.Cert, Middle: mid.Cert, GatewayCert: gw.Cert, GatewayKey: gw.Key,
		MerID: DefaultMerID, MerchantCert: mer.Cert, MerchantKey: mer.Key}, nil
}

// AdapterConfig is the adapter configuration for the sandbox merchant
// against a gateway at gatewayURL (e.g. http://127.0.0.1:8080/sandbox/unionpay).
func (k *Keys) AdapterConfig(gatewayURL string, client *http.Client) unionpay.Config {
	return unionpay.Config{
		MerID:      k.MerID,
		SignKey:    k.MerchantKey,
		SignCert:   k.MerchantCert,
		Trust:      acp.Trust{Roots: []*x509.Certificate{k.Root}, Middles: []*x509.Certificate{k.Middle}},
		GatewayURL: gatewayURL,
		HTTPClient: client,
	}
}

var keyFiles = []string{"root.pem", "middle.pem", "gateway-cert.pem", "gateway-key.pem", "merchant-cert.pem", "merchant-key.pem"}

// LoadOrCreateKeys reads the PEM files in dir, or, when none of them is
// there, issues new keys and writes them (mode 0600), so that a sandbox
// process and the server started separately share one chain.
func LoadOrCreateKeys(dir string) (*Keys, error) {
	present := 0
	for _, f := range keyFiles {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			present++
		}
	}
	switch present {
	case len(keyFiles):
		return loadKeys(dir)
	case 0:
	default:
		return nil, fmt.Errorf("upsim: %s holds only some of the sandbox key files; remove them to regenerate", dir)
	}
	k, err := NewKeys()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	blobs := [][]byte{
		certPEM(k.Root), certPEM(k.Middle), certPEM(k.GatewayCert),
		keyPEM(k.GatewayKey), certPEM(k.MerchantCert), keyPEM(k.MerchantKey),
	}
	for i, f := range keyFiles {
		if err := writeAtomic(filepath.Join(dir, f), blobs[i]); err != nil {
			return nil, err
		}
	}
	return k, nil
}

func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".upsim-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func certPEM(c *x509.Certificate) []byte { return []byte(acp.CertPEM(c)) }

func keyPEM(k *rsa.PrivateKey) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
}

func loadKeys(dir string) (*Keys, error) {
	read := func(name string) ([]byte, error) { return os.ReadFile(filepath.Join(dir, name)) }
	cert := func(name string) (*x509.Certificate, error) {
		b, err := read(name)
		if err != nil {
			return nil, err
		}
		c, err := acp.ParseCertPEM(string(b))
		if err != nil {
			return nil, fmt.Errorf("upsim: %s: %w", name, err)
		}
		return c, nil
	}
	key := func(name string) (*rsa.PrivateKey, error) {
		b, err := read(name)
		if err != nil {
			return nil, err
		}
		blk, _ := pem.Decode(b)
		if blk == nil {
			return nil, fmt.Errorf("upsim: %s: not PEM", name)
		}
		k, err := x509.ParsePKCS1PrivateKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("upsim: %s: %w", name, err)
		}
		return k, nil
	}
	var k Keys
	var err error
	if k.Root, err = cert("root.pem"); err != nil {
		return nil, err
	}
	if k.Middle, err = cert("middle.pem"); err != nil {
		return nil, err
	}
	if k.GatewayCert, err = cert("gateway-cert.pem"); err != nil {
		return nil, err
	}
	if k.GatewayKey, err = key("gateway-key.pem"); err != nil {
		return nil, err
	}
	if k.MerchantCert, err = cert("merchant-cert.pem"); err != nil {
		return nil, err
	}
	if k.MerchantKey, err = key("merchant-key.pem"); err != nil {
		return nil, err
	}
	if !k.GatewayKey.PublicKey.Equal(k.GatewayCert.PublicKey) || !k.MerchantKey.PublicKey.Equal(k.MerchantCert.PublicKey) {
		return nil, errors.New("upsim: key files do not match their certificates")
	}
	k.MerID = DefaultMerID
	return &k, nil
}
