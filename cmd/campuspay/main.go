// Command campuspay is the whole platform in one binary: the server, the
// sandbox channels, migrations, imports and journal checks.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"campuspay/internal/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(app.Main(ctx, os.Args[1:], os.Stdout, os.Stderr))
}
