package loadtest

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"campuspay/internal/auth"
	"campuspay/internal/store"
)

// What one paid flow costs at least, to turn the machine's raw rates into
// a ceiling in flows/s. Keep these true when the payment path changes.
const (
	// SignsPerFlow counts RSA-2048 signatures: the platform signs the
	// UnionPay front form (unionpay.Adapter.Prepare, at order creation)
	// and the sandbox signs the back notification (upsim.Gateway.Pay).
	// The sandbox's check of the form and the platform's check of the
	// notification are RSA verifications, ~30× cheaper, and not counted.
	SignsPerFlow = 2
	// TxnsPerFlow counts durable write transactions: create the order,
	// already paying because UnionPay prepares its form offline
	// (payment.Service.CreateOrder, one transaction), and apply the
	// payment with its journal entry (the notification, through the
	// group-commit applier, which may share one transaction among several
	// payments: the report's "durable transactions" per flow may be
	// lower). A session's last_seen update (at most every 5 s per
	// session) is not counted.
	TxnsPerFlow = 2
	// HashesPerFirstLogin counts argon2id computations of a first login:
	// the login checks the password (auth.Service.StudentLogin hashes on
	// every path, the initial password included) and the forced change
	// hashes the new one; the initial password itself is compared
	// without hashing.
	HashesPerFirstLogin = 2
)

// RawTxnRate measures the database's raw single-row transaction rate:
// BEGIN; one-row INSERT into a scratch table; COMMIT, through the store's
// own connection pool and durability settings (store.Open), for d, with
// inFlight transactions at once (1 = serial). The scratch table is dropped
// afterwards.
func RawTxnRate(ctx context.Context, dsn string, d time.Duration, inFlight int) (float64, error) {
	st, err := store.Open(ctx, dsn)
	if err != nil {
		return 0, err
	}
	defer st.Close()
	db := st.DB()
	var b [4]byte
	rand.Read(b[:])
	table := "loadtest_raw_" + hex.EncodeToString(b[:])
	ddl := `CREATE TABLE ` + table + ` (id INTEGER PRIMARY KEY AUTOINCREMENT, v INTEGER NOT NULL)`
	if st.Dialect() == store.Postgres {
		ddl = `CREATE TABLE ` + table + ` (id BIGSERIAL PRIMARY KEY, v BIGINT NOT NULL)`
	}
	if _, err := db.ExecContext(ctx, ddl); err != nil {
		return 0, fmt.Errorf("scratch table: %w", err)
	}
	defer db.ExecContext(context.WithoutCancel(ctx), `DROP TABLE `+table)
	insert := `INSERT INTO ` + table + ` (v) VALUES ($1)`
	var n atomic.Int64
	var firstErr error
	var once sync.Once
	start := time.Now()
	until := start.Add(d)
	var wg sync.WaitGroup
	for w := range max(1, inFlight) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(until) && ctx.Err() == nil; i++ {
				tx, err := db.BeginTx(ctx, nil)
				if err == nil {
					if _, err = tx.ExecContext(ctx, insert, w*1_000_000+i); err == nil {
						err = tx.Commit()
					} else {
						tx.Rollback()
					}
				}
				if err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return 0, firstErr
	}
	return float64(n.Load()) / time.Since(start).Seconds(), nil
}

// RSASignRate measures RSA-2048 PKCS #1 v1.5 SHA-256 signatures per second
// on every core (one goroutine per CPU) for d. It returns the best rate
// over any 250 ms slice of that time rather than the mean: on a shared
// machine the mean measures the neighbours' load as much as the CPU, and
// the ceiling wants what the CPU can do.
func RSASignRate(ctx context.Context, d time.Duration) (float64, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return 0, err
	}
	digest := sha256.Sum256([]byte("campuspay loadtest"))
	return bestRate(ctx, d, func() error {
		_, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, digest[:])
		return err
	})
}

// Argon2Rate is the password hashes per second the machine's cores allow
// at best: cores ÷ the CPU cost of one hash (auth.HashPassword, the
// platform's parameters), measured by hashing on every core for d and
// dividing this process's CPU time by the hashes made. A hash takes tens
// of milliseconds, so a rate counted over short slices of wall time (as
// RSASignRate does) would be off by a whole hash per slice; CPU time is
// also what the neighbours of a shared machine take least from. Where
// the process's CPU time cannot be read, wall time on every core stands
// in for it.
func Argon2Rate(ctx context.Context, d time.Duration) (float64, error) {
	cpu0, cpuOK := cpuOf([]int{os.Getpid()})
	n, wall, err := onEveryCore(ctx, d, func() error {
		_, err := auth.HashPassword("campuspay loadtest")
		return err
	}, nil)
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, fmt.Errorf("no hash finished in %v", d)
	}
	cost := wall * time.Duration(runtime.NumCPU())
	if cpu1, ok := cpuOf([]int{os.Getpid()}); cpuOK && ok && cpu1 > cpu0 {
		cost = cpu1 - cpu0
	}
	return float64(runtime.NumCPU()) * float64(n) / cost.Seconds(), nil
}

// bestRate runs work on every core for d and returns the best rate over
// any 250 ms slice, or the mean if that is higher.
func bestRate(ctx context.Context, d time.Duration, work func() error) (float64, error) {
	best := 0.0
	var last time.Time
	var lastN int64
	n, wall, err := onEveryCore(ctx, d, work, func(t time.Time, cur int64) {
		if !last.IsZero() {
			best = max(best, float64(cur-lastN)/t.Sub(last).Seconds())
		}
		last, lastN = t, cur
	})
	if err != nil {
		return 0, err
	}
	return max(best, float64(n)/wall.Seconds()), nil
}

// onEveryCore runs work back to back on one goroutine per CPU for d and
// returns how many times it ran and the wall time taken; tick, if given,
// sees the count every 250 ms (and once at the start).
func onEveryCore(ctx context.Context, d time.Duration, work func() error, tick func(time.Time, int64)) (int64, time.Duration, error) {
	var n atomic.Int64
	var firstErr error
	var once sync.Once
	start := time.Now()
	until := start.Add(d)
	var wg sync.WaitGroup
	for range runtime.NumCPU() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(until) && ctx.Err() == nil {
				if err := work(); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				n.Add(1)
			}
		}()
	}
	if tick != nil {
		tick(start, 0)
		for t := range time.Tick(250 * time.Millisecond) {
			if !t.Before(until) || ctx.Err() != nil {
				break
			}
			tick(t, n.Load())
		}
	}
	wg.Wait()
	return n.Load(), time.Since(start), firstErr
}
