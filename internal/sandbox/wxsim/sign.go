package wxsim

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// authScheme is the only signature scheme of API v3.
const authScheme = "WECHATPAY2-SHA256-RSA2048"

// maxSkew is how far a signature's timestamp may be from the wall clock.
const maxSkew = 5 * time.Minute

// authParams are the fields of an Authorization header.
type authParams struct {
	MchID, Nonce, Serial, Signature string
	Timestamp                       int64
}

// parseAuthorization reads `WECHATPAY2-SHA256-RSA2048 k="v",k="v",…`.
func parseAuthorization(h string) (authParams, error) {
	var p authParams
	rest, ok := strings.CutPrefix(h, authScheme+" ")
	if !ok {
		return p, errors.New("not a " + authScheme + " Authorization")
	}
	seen := map[string]bool{}
	for part := range strings.SplitSeq(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
			return p, fmt.Errorf("bad Authorization field %q", part)
		}
		if seen[k] {
			return p, fmt.Errorf("repeated Authorization field %q", k)
		}
		seen[k] = true
		v = v[1 : len(v)-1]
		switch k {
		case "mchid":
			p.MchID = v
		case "nonce_str":
			p.Nonce = v
		case "serial_no":
			p.Serial = v
		case "signature":
			p.Signature = v
		case "timestamp":
			ts, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return p, fmt.Errorf("bad timestamp %q", v)
			}
			p.Timestamp = ts
		}
	}
	if p.MchID == "" || p.Nonce == "" || p.Serial == "" || p.Signature == "" || p.Timestamp == 0 {
		return p, errors.New("Authorization misses a field")
	}
	return p, nil
}

// verifyRequest checks a request signature: METHOD\nPATH\nTS\nNONCE\nBODY\n.
func (k *Keys) verifyRequest(h, method, pathQuery string, body []byte, now time.Time) (authParams, error) {
	p, err := parseAuthorization(h)
	if err != nil {
		return p, err
	}
	if p.MchID != k.MchID {
		return p, fmt.Errorf("unknown mchid %q", p.MchID)
	}
	if p.Serial != k.MerchantSerial {
		return p, fmt.Errorf("unknown serial_no %q", p.Serial)
	}
	if d := now.Sub(time.Unix(p.Timestamp, 0)); d >= maxSkew || d <= -maxSkew {
		return p, fmt.Errorf("timestamp %d is off by %s", p.Timestamp, d)
	}
	sig, err := base64.StdEncoding.DecodeString(p.Signature)
	if err != nil {
		return p, errors.New("signature is not base64")
	}
	sum := sha256.Sum256([]byte(requestMessage(method, pathQuery, p.Timestamp, p.Nonce, body)))
	if err := rsa.VerifyPKCS1v15(&k.MerchantKey.PublicKey, crypto.SHA256, sum[:], sig); err != nil {
		return p, errors.New("signature does not verify")
	}
	return p, nil
}

// platformHeaders signs body as WeChat Pay does its responses and
// notifications: TS\nNONCE\nBODY\n with the platform key.
func (k *Keys) platformHeaders(body []byte, now time.Time) (map[string]string, error) {
	ts := strconv.FormatInt(now.Unix(), 10)
	nonce := randString(alnum, 32)
	sig, err := signMessage(k.PlatformKey, responseMessage(ts, nonce, body))
	if err != nil {
		return nil, err
	}
	return map[string]string{
		"Wechatpay-Timestamp": ts,
		"Wechatpay-Nonce":     nonce,
		"Wechatpay-Signature": sig,
		"Wechatpay-Serial":    k.PlatformPubKeyID,
	}, nil
}

// requestMessage is what a request signature covers:
// METHOD\nPATH_AND_QUERY\nTS\nNONCE\nBODY\n, the body empty for a GET.
func requestMessage(method, pathQuery string, ts int64, nonce string, body []byte) string {
	return method + "\n" + pathQuery + "\n" + strconv.FormatInt(ts, 10) + "\n" + nonce + "\n" + string(body) + "\n"
}

// responseMessage is what a response or notification signature covers:
// TS\nNONCE\nBODY\n, so TS\nNONCE\n\n for an empty 204.
func responseMessage(ts, nonce string, body []byte) string {
	return ts + "\n" + nonce + "\n" + string(body) + "\n"
}

// signMessage is SHA256withRSA (PKCS#1 v1.5) of msg, base64: the one
// signature of API v3, in both directions.
func signMessage(key *rsa.PrivateKey, msg string) (string, error) {
	sum := sha256.Sum256([]byte(msg))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// encryptResource seals plaintext with AEAD_AES_256_GCM under the APIv3
// key; the 12-character nonce string's bytes are the GCM nonce.
func (k *Keys) encryptResource(plaintext []byte, associatedData string) (ciphertext, nonce string, err error) {
	block, err := aes.NewCipher([]byte(k.APIv3Key))
	if err != nil {
		return "", "", err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return "", "", err
	}
	nonce = randString(alnum, gcm.NonceSize())
	ct := gcm.Seal(nil, []byte(nonce), plaintext, []byte(associatedData))
	return base64.StdEncoding.EncodeToString(ct), nonce, nil
}

// randString draws n characters of alphabet uniformly.
func randString(alphabet string, n int) string {
	b := make([]byte, n)
	max := big.NewInt(int64(len(alphabet)))
	for i := range b {
		v, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic(err) // crypto/rand does not fail
		}
		b[i] = alphabet[v.Int64()]
	}
	return string(b)
}

func randDigits(n int) string { return randString("0123456789", n) }

func randHex(nbytes int) string {
	b := make([]byte, nbytes)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
