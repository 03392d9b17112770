package auth

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"
)

// BenchmarkArgon2 measures one password check at the parameters we store
// (argon2id, 19 MiB, t=2, p=1): "check" serially, reporting ms and MiB
// allocated per check; "burst" with b.N checks started at once through
// the default bound, reporting how much memory the process took from the
// OS, which the bound keeps near cores × 19 MiB however large the burst.
//
//	go test ./internal/auth -run X -bench Argon2 -benchtime 20x
func BenchmarkArgon2(b *testing.B) {
	hash, err := HashPassword("correct horse battery")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("check", func(b *testing.B) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		b.ResetTimer()
		for b.Loop() {
			if !CheckPassword(hash, "correct horse battery") {
				b.Fatal("refused")
			}
		}
		b.StopTimer()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/check")
		b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N)/(1<<20), "MiB/check")
	})
	b.Run("burst", func(b *testing.B) {
		useLimiter(b, NewLimiter(LimiterConfig{Queue: b.N, Wait: time.Hour}))
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		b.ResetTimer()
		var wg sync.WaitGroup
		for range b.N {
			wg.Go(func() {
				if ok, err := CheckPasswordCtx(context.Background(), hash, "correct horse battery"); !ok || err != nil {
					b.Error("refused", err)
				}
			})
		}
		wg.Wait()
		b.StopTimer()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/check")
		b.ReportMetric(float64(after.Sys-before.Sys)/(1<<20), "MiB-sys-growth")
		b.ReportMetric(float64(runtime.NumCPU()), "cores")
	})
}
