package wxsim

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"campuspay/internal/channel/wechat"
)

// Keys are the sandbox merchant account: both sides' RSA keys and the
// APIv3 key. The merchant half configures the adapter, the platform half
// signs the sandbox's responses and notifications.
type Keys struct {
	MchID            string
	AppID            string
	MerchantSerial   string          // merchant API certificate serial (40 hex digits)
	MerchantKey      *rsa.PrivateKey // the merchant's; the sandbox verifies with its public half
	PlatformPubKeyID string          // PUB_KEY_ID_…
	PlatformKey      *rsa.PrivateKey // WeChat Pay's; the adapter verifies with its public half
	APIv3Key         string          // 32 characters
}

// String describes the keys without their secrets (also for %+v and %#v).
func (k Keys) String() string {
	return fmt.Sprintf("wxsim.Keys{MchID:%s AppID:%s MerchantSerial:%s PlatformPubKeyID:%s}",
		k.MchID, k.AppID, k.MerchantSerial, k.PlatformPubKeyID)
}

// GoString is String.
func (k Keys) GoString() string { return k.String() }

// LogValue logs the keys without their secrets.
func (k Keys) LogValue() slog.Value {
	return slog.GroupValue(slog.String("mchid", k.MchID), slog.String("appid", k.AppID),
		slog.String("merchant_serial", k.MerchantSerial), slog.String("platform_pub_key_id", k.PlatformPubKeyID))
}

// Sandbox merchant identifiers.
const (
	SandboxMchID = "1900012345"
	SandboxAppID = "wx5a3c1b2d4e6f8a90"
)

const alnum = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// NewKeys generates a fresh account (two RSA-2048 keys: slow, about a
// second).
func NewKeys() (*Keys, error) {
	mk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	pk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	return &Keys{
		MchID:            SandboxMchID,
		AppID:            SandboxAppID,
		MerchantSerial:   strings.ToUpper(randHex(20)),
		MerchantKey:      mk,
		PlatformPubKeyID: "PUB_KEY_ID_01" + SandboxMchID + randDigits(16),
		PlatformKey:      pk,
		APIv3Key:         randString(alnum, 32),
	}, nil
}

// AdapterConfig is the adapter configuration for this account against the
// sandbox at baseURL (e.g. http://127.0.0.1:8080/sandbox/wechat).
func (k *Keys) AdapterConfig(baseURL string, client *http.Client) wechat.Config {
	return wechat.Config{
		MchID:            k.MchID,
		AppID:            k.AppID,
		MerchantSerial:   k.MerchantSerial,
		MerchantKey:      k.MerchantKey,
		PlatformPubKeyID: k.PlatformPubKeyID,
		PlatformPubKey:   &k.PlatformKey.PublicKey,
		APIv3Key:         k.APIv3Key,
		BaseURL:          baseURL,
		HTTPClient:       client,
	}
}

// keyFile is the on-disk form of Keys.
type keyFile struct {
	MchID            string `json:"mchid"`
	AppID            string `json:"appid"`
	MerchantSerial   string `json:"merchant_serial"`
	MerchantKey      string `json:"merchant_key_pem"`
	PlatformPubKeyID string `json:"platform_pub_key_id"`
	PlatformKey      string `json:"platform_key_pem"`
	PlatformPubKey   string `json:"platform_pub_key_pem"` // for reference; derived from PlatformKey
	APIv3Key         string `json:"apiv3_key"`
}

// KeyFileName is the file LoadOrCreateKeys keeps in its directory.
const KeyFileName = "wechat-sandbox-keys.json"

// LoadOrCreateKeys loads the account from dir, or creates it there (mode
// 0600, directory 0700) if there is none yet, so that a separate sandbox
// process and the platform share one account. Two processes racing to
// create it end up with the same keys.
func LoadOrCreateKeys(dir string) (*Keys, error) {
	path := filepath.Join(dir, KeyFileName)
	if k, err := loadKeys(path); err == nil {
		return k, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("wxsim: keys dir: %w", err)
	}
	k, err := NewKeys()
	if err != nil {
		return nil, err
	}
	data, err := k.marshal()
	if err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(dir, ".wechat-keys-*")
	if err != nil {
		return nil, fmt.Errorf("wxsim: keys: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("wxsim: keys: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("wxsim: keys: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("wxsim: keys: %w", err)
	}
	// Link fails if another process got there first: then use its keys.
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return loadKeys(path)
		}
		return nil, fmt.Errorf("wxsim: keys: %w", err)
	}
	return k, nil
}

func (k *Keys) marshal() ([]byte, error) {
	mk, err := x509.MarshalPKCS8PrivateKey(k.MerchantKey)
	if err != nil {
		return nil, err
	}
	pk, err := x509.MarshalPKCS8PrivateKey(k.PlatformKey)
	if err != nil {
		return nil, err
	}
	pub, err := x509.MarshalPKIXPublicKey(&k.PlatformKey.PublicKey)
	if err != nil {
		return nil, err
	}
	return json.MarshalIndent(keyFile{
		MchID:            k.MchID,
		AppID:            k.AppID,
		MerchantSerial:   k.MerchantSerial,
		MerchantKey:      string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: mk})),
		PlatformPubKeyID: k.PlatformPubKeyID,
		PlatformKey:      string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk})),
		PlatformPubKey:   string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})),
		APIv3Key:         k.APIv3Key,
	}, "", "  ")
}

func loadKeys(path string) (*Keys, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f keyFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("wxsim: %s: %w", path, err)
	}
	mk, err := parseRSAKey(f.MerchantKey)
	if err != nil {
		return nil, fmt.Errorf("wxsim: %s: merchant key: %w", path, err)
	}
	pk, err := parseRSAKey(f.PlatformKey)
	if err != nil {
		return nil, fmt.Errorf("wxsim: %s: platform key: %w", path, err)
	}
	if f.MchID == "" || f.AppID == "" || f.MerchantSerial == "" || f.PlatformPubKeyID == "" || len(f.APIv3Key) != 32 {
		return nil, fmt.Errorf("wxsim: %s: incomplete", path)
	}
	return &Keys{MchID: f.MchID, AppID: f.AppID, MerchantSerial: f.MerchantSerial, MerchantKey: mk,
		PlatformPubKeyID: f.PlatformPubKeyID, PlatformKey: pk, APIv3Key: f.APIv3Key}, nil
}

func parseRSAKey(s string) (*rsa.PrivateKey, error) {
	b, _ := pem.Decode([]byte(s))
	if b == nil {
		return nil, errors.New("no PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, err
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("not an RSA key")
	}
	return rk, nil
}
