//go:build tools

// Package deps pins the third-party modules the project builds on.
package deps

import (
	_ "github.com/chromedp/chromedp"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "github.com/pressly/goose/v3"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "github.com/skip2/go-qrcode"
	_ "github.com/wechatpay-apiv3/wechatpay-go/core"
	_ "github.com/xuri/excelize/v2"
	_ "golang.org/x/crypto/argon2"
	_ "golang.org/x/text/encoding/simplifiedchinese"
	_ "modernc.org/sqlite"
)
