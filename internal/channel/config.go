package channel

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"

	"campuspay/internal/billing"
	"campuspay/internal/channel/unionpay"
	"campuspay/internal/channel/unionpay/acp"
	"campuspay/internal/channel/wechat"
	"campuspay/internal/payment"
)

// FileConfig is the merchant settings file (CAMPUSPAY_CHANNELS). Key
// material is read from files or environment variables named here, never
// written in the file itself, and never logged.
//
//	{"merchants":[{"schools":["cqjz"],
//	  "unionpay":{"mer_id":"…","sign_key_file":"…","sign_cert_file":"…",
//	              "root_cert_files":["…"],"middle_cert_files":["…"],"gateway_url":"https://gateway.95516.com"},
//	  "wechat":{"mchid":"…","appid":"…","merchant_serial":"…","merchant_key_file":"…",
//	            "platform_pub_key_id":"PUB_KEY_ID_…","platform_pub_key_file":"…","apiv3_key_env":"WECHAT_APIV3_KEY"}}]}
//
// "schools":["*"] makes the merchant the platform default.
type FileConfig struct {
	Merchants []struct {
		Schools  []string `json:"schools"`
		UnionPay *struct {
			MerID       string   `json:"mer_id"`
			SignKeyFile string   `json:"sign_key_file"`
			SignCert    string   `json:"sign_cert_file"`
			Roots       []string `json:"root_cert_files"`
			Middles     []string `json:"middle_cert_files"`
			GatewayURL  string   `json:"gateway_url"`
		} `json:"unionpay"`
		WeChat *struct {
			MchID          string `json:"mchid"`
			AppID          string `json:"appid"`
			MerchantSerial string `json:"merchant_serial"`
			MerchantKey    string `json:"merchant_key_file"`
			PubKeyID       string `json:"platform_pub_key_id"`
			PubKeyFile     string `json:"platform_pub_key_file"`
			APIv3KeyEnv    string `json:"apiv3_key_env"`
			BaseURL        string `json:"base_url"`
		} `json:"wechat"`
	} `json:"merchants"`
}

// LoadFile reads a merchant settings file into the registry.
func LoadFile(ctx context.Context, path string, reg *Registry, client *http.Client, school func(context.Context, string) (billing.School, error)) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var fc FileConfig
	if err := json.Unmarshal(raw, &fc); err != nil {
		return fmt.Errorf("channels config %s: %w", path, err)
	}
	for i, m := range fc.Merchants {
		var adapters []payment.Channel
		if u := m.UnionPay; u != nil {
			key, err := readKey(u.SignKeyFile)
			if err != nil {
				return fmt.Errorf("merchant %d unionpay key: %w", i, err)
			}
			cert, err := readCert(u.SignCert)
			if err != nil {
				return fmt.Errorf("merchant %d unionpay cert: %w", i, err)
			}
			var tr acp.Trust
			for _, f := range u.Roots {
				c, err := readCert(f)
				if err != nil {
					return err
				}
				tr.Roots = append(tr.Roots, c)
			}
			for _, f := range u.Middles {
				c, err := readCert(f)
				if err != nil {
					return err
				}
				tr.Middles = append(tr.Middles, c)
			}
			a, err := unionpay.New(unionpay.Config{MerID: u.MerID, SignKey: key, SignCert: cert, Trust: tr, GatewayURL: u.GatewayURL, HTTPClient: client})
			if err != nil {
				return err
			}
			adapters = append(adapters, a)
		}
		if w := m.WeChat; w != nil {
			key, err := readKey(w.MerchantKey)
			if err != nil {
				return fmt.Errorf("merchant %d wechat key: %w", i, err)
			}
			pub, err := readPub(w.PubKeyFile)
			if err != nil {
				return fmt.Errorf("merchant %d wechat platform key: %w", i, err)
			}
			v3 := os.Getenv(w.APIv3KeyEnv)
			if v3 == "" {
				return fmt.Errorf("merchant %d: environment variable %s (APIv3 key) is empty", i, w.APIv3KeyEnv)
			}
			a, err := wechat.New(ctx, wechat.Config{MchID: w.MchID, AppID: w.AppID, MerchantSerial: w.MerchantSerial, MerchantKey: key,
				PlatformPubKeyID: w.PubKeyID, PlatformPubKey: pub, APIv3Key: v3, BaseURL: w.BaseURL, HTTPClient: client})
			if err != nil {
				return err
			}
			adapters = append(adapters, a)
		}
		for _, code := range m.Schools {
			for _, a := range adapters {
				if code == "*" {
					reg.SetDefault(a)
					continue
				}
				sc, err := school(ctx, code)
				if err != nil {
					return fmt.Errorf("channels config: school %s: %w", code, err)
				}
				reg.SetSchool(sc.ID, a)
			}
		}
	}
	return nil
}

func readPEM(path string) (*pem.Block, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	b, _ := pem.Decode(raw)
	if b == nil {
		return nil, errors.New(path + ": no PEM block")
	}
	return b, nil
}

func readKey(path string) (*rsa.PrivateKey, error) {
	b, err := readPEM(path)
	if err != nil {
		return nil, err
	}
	if k, err := x509.ParsePKCS1PrivateKey(b.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, err
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New(path + ": not an RSA key")
	}
	return rk, nil
}

func readPub(path string) (*rsa.PublicKey, error) {
	b, err := readPEM(path)
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKIXPublicKey(b.Bytes)
	if err != nil {
		return nil, err
	}
	rk, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, errors.New(path + ": not an RSA public key")
	}
	return rk, nil
}

func readCert(path string) (*x509.Certificate, error) {
	b, err := readPEM(path)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(b.Bytes)
}
