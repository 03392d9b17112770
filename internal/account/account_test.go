package account_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"campuspay/internal/account"
	"campuspay/internal/apperr"
	"campuspay/internal/billing"
	"campuspay/internal/sms"
	"campuspay/internal/store"
	"campuspay/internal/store/storetest"
)

var ctx = context.Background()

var secret = []byte("test-secret-of-32-bytes-for-sms!")

// kit is a service over a real store with a dev outbox and a clock the
// test moves.
type kit struct {
	t      *testing.T
	s      *store.Store
	svc    *account.Service
	outbox *sms.DevOutbox
	move   func(time.Duration) time.Time
	now    func() time.Time
	school billing.School
	roll   []billing.Student
}

func newKit(t *testing.T, s *store.Store) *kit {
	t.Helper()
	now, move := storetest.FixedClock(s, time.Date(2026, 8, 20, 9, 0, 0, 0, time.UTC))
	school, roll := storetest.Seed(t, s)
	k := &kit{t: t, s: s, now: now, move: move, school: school, roll: roll}
	k.outbox = sms.NewDevOutbox(100).WithClock(now)
	k.svc = k.service(k.outbox)
	return k
}

// service is another server's service over the same store.
func (k *kit) service(p sms.Provider) *account.Service {
	svc, err := account.NewService(k.s, p, account.Config{Secret: secret, Now: k.now})
	if err != nil {
		k.t.Fatal(err)
	}
	return svc
}

var client = netip.MustParseAddr("10.0.0.1")

func clientN(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}) }

func (k *kit) send(phone string) (time.Duration, error) {
	return k.svc.SendCode(ctx, account.SendRequest{Phone: phone, Purpose: sms.PurposeLogin, Client: client})
}

func (k *kit) code(phone, purpose string) string {
	k.t.Helper()
	c, ok := k.outbox.LastCode(phone, purpose)
	if !ok {
		k.t.Fatalf("no %s code sent to %s", purpose, phone)
	}
	return c
}

// login sends a code to phone and logs in with it.
func (k *kit) login(phone string) account.Login {
	k.t.Helper()
	if _, err := k.send(phone); err != nil {
		k.t.Fatalf("send to %s: %v", phone, err)
	}
	l, err := k.svc.SMSLogin(ctx, phone, k.code(phone, sms.PurposeLogin), client)
	if err != nil {
		k.t.Fatalf("sms login %s: %v", phone, err)
	}
	return l
}

func wantCode(t *testing.T, err error, code string) *apperr.Error {
	t.Helper()
	e, ok := apperr.As(err)
	if !ok || e.Code != code {
		t.Fatalf("error %v, want code %s", err, code)
	}
	return e
}

func retryAfter(t *testing.T, e *apperr.Error) int {
	t.Helper()
	v, ok := e.Details["retry_after_seconds"].(int)
	if !ok || v <= 0 {
		t.Fatalf("%s carries no positive retry_after_seconds: %v", e.Code, e.Details)
	}
	return v
}

func wrongCode(c string) string {
	if c == "000000" {
		return "000001"
	}
	return "000000"
}

func TestSMSLimits(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		k := newKit(t, s)
		const phone = "13900000001"

		t.Run("the_6th_send_of_a_day_is_refused_until_24_hours_after_the_first", func(t *testing.T) {
			first := k.now()
			for i := 1; i <= 5; i++ {
				wait, err := k.send(phone)
				if err != nil {
					t.Fatalf("send %d: %v", i, err)
				}
				if i < 5 && wait != time.Minute {
					t.Errorf("send %d: wait %v, want 60s", i, wait)
				}
				if i == 5 && wait < 23*time.Hour {
					t.Errorf("the 5th send's wait %v, want about 24 h", wait)
				}
				k.move(61 * time.Second)
			}
			_, err := k.send(phone)
			e := wantCode(t, err, sms.CodeDailyLimit)
			want := first.Add(24 * time.Hour).Sub(k.now())
			if got := time.Duration(retryAfter(t, e)) * time.Second; got < want || got > want+time.Second {
				t.Errorf("retry_after %v, want %v (24 h after the first send)", got, want)
			}
			if n := len(k.outbox.Messages(phone)); n != 5 {
				t.Errorf("%d messages sent, want 5", n)
			}
			k.move(want - time.Second)
			_, err = k.send(phone)
			wantCode(t, err, sms.CodeDailyLimit)
			k.move(2 * time.Second)
			if _, err := k.send(phone); err != nil {
				t.Fatalf("24 h after the first send: %v", err)
			}
		})

		t.Run("sends_less_than_60_s_apart_are_refused_with_the_rest_of_the_wait", func(t *testing.T) {
			const p = "13900000002"
			if _, err := k.send(p); err != nil {
				t.Fatal(err)
			}
			k.move(25 * time.Second)
			_, err := k.send(p)
			if got := retryAfter(t, wantCode(t, err, sms.CodeTooFrequent)); got != 35 {
				t.Errorf("retry_after_seconds %d, want 35", got)
			}
			k.move(35 * time.Second)
			if _, err := k.send(p); err != nil {
				t.Fatalf("60 s later: %v", err)
			}
		})

		t.Run("another_server_on_the_same_database_counts_the_same_sends", func(t *testing.T) {
			const p = "13900000003"
			other := k.service(k.outbox)
			for i := range 5 {
				svc := k.svc
				if i%2 == 1 {
					svc = other
				}
				if _, err := svc.SendCode(ctx, account.SendRequest{Phone: p, Purpose: sms.PurposeLogin, Client: clientN(i)}); err != nil {
					t.Fatalf("send %d: %v", i, err)
				}
				k.move(61 * time.Second)
			}
			_, err := other.SendCode(ctx, account.SendRequest{Phone: p, Purpose: sms.PurposeLogin, Client: clientN(9)})
			wantCode(t, err, sms.CodeDailyLimit)
		})

		t.Run("a_send_the_provider_failed_is_not_counted", func(t *testing.T) {
			const p = "13900000004"
			failing := k.service(failingProvider{})
			_, err := failing.SendCode(ctx, account.SendRequest{Phone: p, Purpose: sms.PurposeLogin, Client: client})
			wantCode(t, err, "sms_unavailable")
			if n := storetest.Count(t, s, "sms_sends", "phone = $1", p); n != 0 {
				t.Errorf("%d sends recorded after a failed send, want 0", n)
			}
			if _, err := k.send(p); err != nil {
				t.Fatalf("a send right after a failed one: %v", err)
			}
		})

		t.Run("a_client_cannot_spend_the_sms_budget_on_many_phones", func(t *testing.T) {
			c := netip.MustParseAddr("10.9.9.9")
			var err error
			for i := 0; i < 100 && err == nil; i++ {
				_, err = k.svc.SendCode(ctx, account.SendRequest{Phone: fmt.Sprintf("137%08d", i), Purpose: sms.PurposeLogin, Client: c})
			}
			retryAfter(t, wantCode(t, err, apperr.CodeTooManyRequests))
		})

		t.Run("bad_input_is_refused_before_anything_is_sent", func(t *testing.T) {
			_, err := k.svc.SendCode(ctx, account.SendRequest{Phone: "12345", Purpose: sms.PurposeLogin, Client: client})
			wantCode(t, err, "invalid_phone")
			_, err = k.svc.SendCode(ctx, account.SendRequest{Phone: "13900000009", Purpose: "reset", Client: client})
			wantCode(t, err, account.CodeInvalidPurpose)
			_, err = k.svc.SendCode(ctx, account.SendRequest{Phone: "13900000009", Purpose: sms.PurposeChangePhone, Client: client})
			wantCode(t, err, account.CodeUnauthorized)
		})
	})
}

// TestParallelSendsNeverExceedTheDailyLimit: many requests for one phone
// at once, with no interval between sends, are counted one after another
// in the database: exactly PerDay go out.
func TestParallelSendsNeverExceedTheDailyLimit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		k := newKit(t, s)
		svc, err := account.NewService(s, k.outbox, account.Config{Secret: secret, Now: k.now,
			Limits: sms.Limits{PerDay: 5, Window: 24 * time.Hour, MinInterval: 0, CodeTTL: 5 * time.Minute, MaxTries: 5}})
		if err != nil {
			t.Fatal(err)
		}
		const phone = "13900000011"
		var ok, limited atomic.Int32
		storetest.Race(16, func(i int) {
			_, err := svc.SendCode(ctx, account.SendRequest{Phone: phone, Purpose: sms.PurposeLogin, Client: clientN(i)})
			switch {
			case err == nil:
				ok.Add(1)
			case apperr.CodeOf(err) == sms.CodeDailyLimit:
				limited.Add(1)
			default:
				t.Errorf("send %d: %v", i, err)
			}
		})
		if ok.Load() != 5 || limited.Load() != 11 {
			t.Errorf("%d sent and %d refused, want 5 and 11", ok.Load(), limited.Load())
		}
		if n := storetest.Count(t, s, "sms_sends", "phone = $1", phone); n != 5 {
			t.Errorf("%d sends recorded, want 5", n)
		}
	})
}

type failingProvider struct{}

func (failingProvider) SendCode(context.Context, string, string, string) error {
	return fmt.Errorf("vendor down: %w", sms.ErrUnavailable)
}
func (failingProvider) SendNotice(context.Context, string, string, []string) error {
	return errors.New("vendor down")
}
func (failingProvider) Dev() bool { return false }

func TestSMSCodes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		k := newKit(t, s)

		t.Run("the_first_sms_login_makes_the_account_which_then_needs_a_password", func(t *testing.T) {
			l := k.login("13900000021")
			if !l.Created || !l.Principal.Account.NeedsPassword() || !account.IsToken(l.Token) {
				t.Fatalf("first login %+v, want a new account that needs a password", l)
			}
			if stored := storetest.Count(t, s, "sms_codes", "phone = $1", "13900000021"); stored != 0 {
				t.Errorf("the used code is still stored")
			}
			k.move(61 * time.Second)
			l2 := k.login("13900000021")
			if l2.Created || l2.Principal.Account.ID != l.Principal.Account.ID {
				t.Errorf("second login %+v, want the same account", l2)
			}
		})

		t.Run("a_code_is_good_once", func(t *testing.T) {
			const p = "13900000022"
			k.send(p)
			c := k.code(p, sms.PurposeLogin)
			if _, err := k.svc.SMSLogin(ctx, p, c, client); err != nil {
				t.Fatal(err)
			}
			_, err := k.svc.SMSLogin(ctx, p, c, client)
			wantCode(t, err, account.CodeBadCode)
		})

		t.Run("a_code_dies_after_5_minutes", func(t *testing.T) {
			const p = "13900000023"
			k.send(p)
			c := k.code(p, sms.PurposeLogin)
			k.move(5*time.Minute + time.Second)
			_, err := k.svc.SMSLogin(ctx, p, c, client)
			wantCode(t, err, account.CodeBadCode)
		})

		t.Run("4_wrong_tries_leave_the_code_alive_and_5_kill_it", func(t *testing.T) {
			for _, wrong := range []int{4, 5} {
				p := fmt.Sprintf("1390000003%d", wrong)
				k.send(p)
				c := k.code(p, sms.PurposeLogin)
				for i := range wrong {
					_, err := k.svc.SMSLogin(ctx, p, wrongCode(c), clientN(100+i))
					wantCode(t, err, account.CodeBadCode)
				}
				_, err := k.svc.SMSLogin(ctx, p, c, clientN(200))
				if wrong == 4 && err != nil {
					t.Errorf("the right code after 4 wrong tries: %v", err)
				}
				if wrong == 5 {
					wantCode(t, err, account.CodeBadCode)
				}
			}
		})

		t.Run("parallel_wrong_guesses_count_at_most_5_tries", func(t *testing.T) {
			const p = "13900000041"
			k.send(p)
			c := k.code(p, sms.PurposeLogin)
			storetest.Race(12, func(i int) {
				_, err := k.svc.SMSLogin(ctx, p, wrongCode(c), clientN(300+i))
				if apperr.CodeOf(err) != account.CodeBadCode {
					t.Errorf("guess %d: %v", i, err)
				}
			})
			_, err := k.svc.SMSLogin(ctx, p, c, clientN(400))
			wantCode(t, err, account.CodeBadCode)
		})

		t.Run("guesses_from_one_client_back_off", func(t *testing.T) {
			const p = "13900000042"
			k.send(p)
			c := k.code(p, sms.PurposeLogin)
			for range 4 {
				k.svc.SMSLogin(ctx, p, wrongCode(c), client)
			}
			_, err := k.svc.SMSLogin(ctx, p, c, client)
			retryAfter(t, wantCode(t, err, account.CodeLoginLocked))
		})

		t.Run("a_code_is_stored_as_an_HMAC_never_as_itself", func(t *testing.T) {
			const p = "13900000043"
			k.send(p)
			c := k.code(p, sms.PurposeLogin)
			var hash string
			if err := s.DB().QueryRowContext(ctx, "SELECT code_hash FROM sms_codes WHERE phone = $1", p).Scan(&hash); err != nil {
				t.Fatal(err)
			}
			if hash != sms.HashCode(secret, p, sms.PurposeLogin, c) {
				t.Errorf("stored %q is not the code's HMAC", hash)
			}
		})
	})
}

func TestPasswords(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		k := newKit(t, s)
		const phone = "13900000051"
		l := k.login(phone)

		t.Run("no_password_login_before_one_is_set", func(t *testing.T) {
			_, err := k.svc.PasswordLogin(ctx, phone, "", clientN(1))
			wantCode(t, err, account.CodeBadCredentials)
		})
		t.Run("weak_passwords_are_refused", func(t *testing.T) {
			for _, pw := range []string{"short", "12345678", "my" + phone, "x" + phone[3:] + "y"} {
				_, err := k.svc.SetPassword(ctx, l.Principal, account.PasswordChange{New: pw, Client: client})
				wantCode(t, err, account.CodeWeakPassword)
			}
		})
		var tok string
		t.Run("the_first_password_needs_no_old_one_and_ends_every_token", func(t *testing.T) {
			var err error
			if tok, err = k.svc.SetPassword(ctx, l.Principal, account.PasswordChange{New: "Kx9-pay-2026", Client: client}); err != nil {
				t.Fatal(err)
			}
			if _, err := k.svc.Authenticate(ctx, l.Token); apperr.CodeOf(err) != account.CodeUnauthorized {
				t.Errorf("the old token still works: %v", err)
			}
			p, err := k.svc.Authenticate(ctx, tok)
			if err != nil || p.Account.NeedsPassword() {
				t.Fatalf("new token: %+v %v", p, err)
			}
		})
		t.Run("phone_and_password_log_in", func(t *testing.T) {
			if _, err := k.svc.PasswordLogin(ctx, "+86 139-0000-0051", "Kx9-pay-2026", clientN(2)); err != nil {
				t.Fatal(err)
			}
		})
		t.Run("a_change_needs_the_old_password", func(t *testing.T) {
			p, _ := k.svc.Authenticate(ctx, tok)
			_, err := k.svc.SetPassword(ctx, p, account.PasswordChange{Old: "wrong", New: "Another-pw-77", Client: client})
			wantCode(t, err, account.CodeBadOldPassword)
			if _, err := k.svc.SetPassword(ctx, p, account.PasswordChange{Old: "Kx9-pay-2026", New: "Another-pw-77", Client: client}); err != nil {
				t.Fatal(err)
			}
		})
		t.Run("shortly_after_an_sms_login_a_forgotten_password_is_reset_without_it", func(t *testing.T) {
			k.move(61 * time.Second)
			l := k.login(phone)
			if k.svc.OldPasswordNeeded(l.Principal) {
				t.Fatal("an SMS login asks for the old password")
			}
			if _, err := k.svc.SetPassword(ctx, l.Principal, account.PasswordChange{New: "Third-pw-2026", Client: client}); err != nil {
				t.Fatal(err)
			}
			k.move(61 * time.Second)
			l = k.login(phone)
			k.move(11 * time.Minute)
			if !k.svc.OldPasswordNeeded(l.Principal) {
				t.Error("11 minutes after an SMS login the old password is not asked for")
			}
		})
		t.Run("wrong_passwords_lock_the_same_for_phones_with_and_without_accounts", func(t *testing.T) {
			for _, p := range []string{phone, "13900000059"} {
				c := netip.MustParseAddr("10.7.7.7")
				for range 4 {
					_, err := k.svc.PasswordLogin(ctx, p, "wrong-password", c)
					wantCode(t, err, account.CodeBadCredentials)
				}
				_, err := k.svc.PasswordLogin(ctx, p, "Third-pw-2026", c)
				retryAfter(t, wantCode(t, err, account.CodeLoginLocked))
			}
		})
		t.Run("an_expired_token_is_refused", func(t *testing.T) {
			l, err := k.svc.PasswordLogin(ctx, phone, "Third-pw-2026", clientN(3))
			if err != nil {
				t.Fatal(err)
			}
			k.move(account.DefaultTokenTTL)
			_, err = k.svc.Authenticate(ctx, l.Token)
			wantCode(t, err, account.CodeUnauthorized)
		})
	})
}

func TestChangePhone(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		k := newKit(t, s)
		const oldPhone, newPhone, taken = "13900000061", "13900000062", "13900000063"
		me := k.login(oldPhone)
		k.login(taken)
		other := k.login("13900000064")
		send := func(p account.Principal, phone string) error {
			_, err := k.svc.SendCode(ctx, account.SendRequest{Phone: phone, Purpose: sms.PurposeChangePhone, Client: client, For: &p})
			return err
		}

		t.Run("a_phone_another_account_has_is_refused_before_any_code_is_sent", func(t *testing.T) {
			wantCode(t, send(me.Principal, taken), account.CodePhoneTaken)
			wantCode(t, send(me.Principal, oldPhone), account.CodeSamePhone)
		})
		t.Run("a_code_sent_for_another_account_does_not_move_mine", func(t *testing.T) {
			if err := send(other.Principal, newPhone); err != nil {
				t.Fatal(err)
			}
			_, err := k.svc.ChangePhone(ctx, me.Principal, newPhone, k.code(newPhone, sms.PurposeChangePhone), client)
			wantCode(t, err, account.CodeBadCode)
		})
		t.Run("a_login_code_is_not_a_change_phone_code", func(t *testing.T) {
			k.move(61 * time.Second)
			k.send(newPhone)
			_, err := k.svc.ChangePhone(ctx, me.Principal, newPhone, k.code(newPhone, sms.PurposeLogin), client)
			wantCode(t, err, account.CodeBadCode)
		})
		t.Run("the_change_ends_every_old_token", func(t *testing.T) {
			k.move(61 * time.Second)
			if err := send(me.Principal, newPhone); err != nil {
				t.Fatal(err)
			}
			tok, err := k.svc.ChangePhone(ctx, me.Principal, newPhone, k.code(newPhone, sms.PurposeChangePhone), client)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := k.svc.Authenticate(ctx, me.Token); apperr.CodeOf(err) != account.CodeUnauthorized {
				t.Errorf("the old token still works: %v", err)
			}
			p, err := k.svc.Authenticate(ctx, tok)
			if err != nil || p.Account.Phone != newPhone || p.Account.ID != me.Principal.Account.ID {
				t.Fatalf("new token: %+v %v", p, err)
			}
			if _, err := s.AccountByPhone(ctx, oldPhone); apperr.CodeOf(err) != apperr.CodeNotFound {
				t.Errorf("the old phone still has an account: %v", err)
			}
		})
	})
}

func TestBindings(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		k := newKit(t, s)
		parent := k.login("13900000071").Principal
		stranger := k.login("13900000072").Principal
		zhang, li, wang := k.roll[0], k.roll[1], k.roll[2] // 张三 and 李四 have ID numbers, 王五 none
		bind := func(p account.Principal, no, name, id6 string, c netip.Addr) (account.Bound, error) {
			return k.svc.Bind(ctx, p, account.BindRequest{SchoolCode: storetest.SchoolCode, StudentNo: no, Name: name, IDCardLast6: id6, Client: c})
		}

		t.Run("no_binding_yet", func(t *testing.T) {
			_, err := k.svc.ActFor(ctx, parent, 0)
			wantCode(t, err, account.CodeBindingRequired)
		})
		t.Run("mismatches_are_one_answer_whether_the_number_exists_or_not", func(t *testing.T) {
			for _, c := range []struct{ no, name, id6 string }{
				{zhang.StudentNo, "李四", "011234"},
				{"2099999", "张三", "011234"},
				{zhang.StudentNo, "张三", "999999"},
			} {
				_, err := bind(parent, c.no, c.name, c.id6, clientN(500))
				wantCode(t, err, account.CodeBindingMismatch)
			}
			_, err := bind(parent, zhang.StudentNo, "张三", "", clientN(501))
			wantCode(t, err, account.CodeIDCardRequired)
			_, err = k.svc.Bind(ctx, parent, account.BindRequest{SchoolCode: "NOPE", StudentNo: zhang.StudentNo, Name: "张三", Client: client})
			wantCode(t, err, billing.CodeSchoolNotFound)
		})
		t.Run("failed_binds_back_off_per_client_and_account", func(t *testing.T) {
			c := netip.MustParseAddr("10.8.8.8")
			for range 4 {
				bind(stranger, zhang.StudentNo, "不对", "", c)
			}
			_, err := bind(stranger, zhang.StudentNo, "张三", "011234", c)
			retryAfter(t, wantCode(t, err, apperr.CodeTooManyRequests))
			// From many addresses: the account's own ceiling.
			for i := range 12 {
				bind(stranger, zhang.StudentNo, "不对", "", clientN(600+i))
			}
			_, err = bind(stranger, zhang.StudentNo, "张三", "011234", clientN(700))
			retryAfter(t, wantCode(t, err, apperr.CodeTooManyRequests))
		})
		t.Run("a_parent_binds_two_children_and_acts_for_each", func(t *testing.T) {
			b, err := bind(parent, " "+zhang.StudentNo+" ", "张 三", "011234", client)
			if err != nil || b.Student.ID != zhang.ID || b.School.Code != storetest.SchoolCode {
				t.Fatalf("bind 张三: %+v %v", b, err)
			}
			if got, err := k.svc.ActFor(ctx, parent, 0); err != nil || got.Student.ID != zhang.ID {
				t.Fatalf("the only binding: %+v %v", got, err)
			}
			if _, err := bind(parent, wang.StudentNo, "王五", "", client); err != nil {
				t.Fatalf("bind 王五 (no ID on the roll): %v", err)
			}
			if _, err := bind(parent, zhang.StudentNo, "张三", "011234", client); err != nil {
				t.Fatalf("binding twice: %v", err)
			}
			bs, err := k.svc.Bindings(ctx, parent)
			if err != nil || len(bs) != 2 || bs[0].Student.ID != zhang.ID || bs[1].Student.ID != wang.ID {
				t.Fatalf("bindings %+v %v", bs, err)
			}
			_, err = k.svc.ActFor(ctx, parent, 0)
			wantCode(t, err, account.CodeStudentRequired)
			if got, err := k.svc.ActFor(ctx, parent, wang.ID); err != nil || got.Student.Name != "王五" {
				t.Fatalf("act for 王五: %+v %v", got, err)
			}
		})
		t.Run("a_student_is_bound_by_several_accounts_and_never_seen_by_others", func(t *testing.T) {
			other := k.login("13900000073").Principal
			if _, err := bind(other, zhang.StudentNo, "张三", "011234", clientN(800)); err != nil {
				t.Fatal(err)
			}
			for _, id := range []int64{wang.ID, li.ID, 999999} {
				_, err := k.svc.ActFor(ctx, other, id)
				wantCode(t, err, account.CodeStudentNotFound)
			}
			wantCode(t, k.svc.Unbind(ctx, other, wang.ID), account.CodeStudentNotFound)
			if err := k.svc.Unbind(ctx, other, zhang.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := k.svc.ActFor(ctx, parent, zhang.ID); err != nil {
				t.Errorf("another account's unbind removed the parent's binding: %v", err)
			}
		})
		t.Run("the_chosen_school_is_remembered", func(t *testing.T) {
			if _, ok, _ := k.svc.School(ctx, parent); ok {
				t.Fatal("a school before one was chosen")
			}
			if _, err := k.svc.ChooseSchool(ctx, parent, storetest.SchoolCode); err != nil {
				t.Fatal(err)
			}
			a, _ := s.AccountByID(ctx, parent.Account.ID)
			parent.Account = a
			sc, ok, err := k.svc.School(ctx, parent)
			if err != nil || !ok || sc.Code != storetest.SchoolCode {
				t.Fatalf("school %+v %v %v", sc, ok, err)
			}
		})
	})
}
