package sms

import "testing"

// The worked example of Tencent Cloud's "Signature v3" document (CVM
// DescribeInstances in ap-guangzhou, 2019-02-25): every intermediate value
// and the final signature are the document's.
const (
	docSecretID  = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE"
	docSecretKey = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"
	docPayload   = `{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}`
)

func docExample() tc3Request {
	return tc3Request{Method: "POST", Host: "cvm.tencentcloudapi.com", ContentType: "application/json; charset=utf-8",
		Payload: []byte(docPayload), Service: "cvm", Timestamp: 1551113065}
}

func TestTC3MatchesTencentsWorkedExample(t *testing.T) {
	r := docExample()
	if got, want := sha256Hex(r.Payload), "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"; got != want {
		t.Fatalf("payload hash %s, want %s", got, want)
	}
	wantCanonical := "POST\n/\n\ncontent-type:application/json; charset=utf-8\nhost:cvm.tencentcloudapi.com\n\ncontent-type;host\n" +
		"35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
	if got := r.canonicalRequest(); got != wantCanonical {
		t.Fatalf("canonical request\n%q\nwant\n%q", got, wantCanonical)
	}
	wantSTS := "TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031"
	if got := r.stringToSign(); got != wantSTS {
		t.Fatalf("string to sign\n%q\nwant\n%q", got, wantSTS)
	}
	wantAuth := "TC3-HMAC-SHA256 Credential=" + docSecretID + "/2019-02-25/cvm/tc3_request, SignedHeaders=content-type;host, " +
		"Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
	if got := r.authorization(docSecretID, docSecretKey); got != wantAuth {
		t.Fatalf("authorization\n%s\nwant\n%s", got, wantAuth)
	}
}

func TestTC3DateIsUTC(t *testing.T) {
	// 1551113065 is 2019-02-26 00:44:25 in UTC+8 but 2019-02-25 in UTC; the
	// document warns that a local date breaks signatures after midnight.
	r := docExample()
	if got := r.date(); got != "2019-02-25" {
		t.Fatalf("date %s, want the UTC date 2019-02-25", got)
	}
}

func TestTC3SignsTheActionWhenGiven(t *testing.T) {
	r := docExample()
	r.Action = "DescribeInstances"
	headers, names := r.signedHeaders()
	if names != "content-type;host;x-tc-action" {
		t.Fatalf("signed headers %q", names)
	}
	if want := "content-type:application/json; charset=utf-8\nhost:cvm.tencentcloudapi.com\nx-tc-action:describeinstances\n"; headers != want {
		t.Fatalf("canonical headers %q, want %q", headers, want)
	}
	if r.signature(docSecretKey) == docExample().signature(docSecretKey) {
		t.Fatal("signing the action header did not change the signature")
	}
}
