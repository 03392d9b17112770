package admin

import (
	"context"
	"strconv"

	"campuspay/internal/apperr"
	"campuspay/internal/audit"
	"campuspay/internal/jobs"
)

// CodeJobNotDead: the job asked for is not (or no longer) one given up.
const CodeJobNotDead = "job_not_dead"

// DeadJobs lists the background jobs given up after their last attempt
// (an expiry, a channel query, a close, a refund, a day's
// reconciliation), newest first, for the platform's operators: they run
// for every school at once.
func (s *Service) DeadJobs(ctx context.Context, p Principal) ([]jobs.Dead, error) {
	if err := authorize(p, PermManageSchools, audit.PlatformChain); err != nil {
		return nil, err
	}
	return s.st.DeadJobs(ctx, 200)
}

// ReviveJob runs a dead job again at once, with its attempts counted
// afresh, once whatever made it fail is put right; audited on the
// platform's chain.
func (s *Service) ReviveJob(ctx context.Context, p Principal, id int64) error {
	if err := authorize(p, PermManageSchools, audit.PlatformChain); err != nil {
		return err
	}
	d, err := s.st.DeadJob(ctx, id)
	if apperr.CodeOf(err) == apperr.CodeNotFound {
		return apperr.New(apperr.NotFound, CodeJobNotDead, "该后台任务不存在或已不在失败状态").Wrap(err)
	}
	if err != nil {
		return err
	}
	return s.st.AdminUpdate(ctx, func(tx Tx) error {
		before := map[string]any{"kind": d.Kind, "ref": d.Ref, "attempts": d.Attempts, "last_error": d.LastError, "dead": true}
		after := map[string]any{"kind": d.Kind, "ref": d.Ref, "attempts": 0, "dead": false}
		if _, err := tx.Audit(ctx, record(p, ActJobRevive, "job:"+strconv.FormatInt(d.ID, 10), audit.PlatformChain, before, after)); err != nil {
			return err
		}
		tx.ReviveJob(d.ID)
		return nil
	})
}
