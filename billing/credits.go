package billing

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/catalog"
	"github.com/billowhq/billow/credits"
)

// A subscription's included credits follow its billing cycle: each period that starts
// (a subscription paid or its trial begun, a renewal, the end of a trial) grants the
// plan's credits for the period, expiring at its end (credits.CycleGrant); a change of
// plan within the period adds what the new plan includes beyond the old one
// (credits.UpgradeGrant). A trial gets the plan's credits too: it is for trying the plan
// as it is sold. The credit upkeep of the credits package grants by calendar month to the
// accounts without a subscription, and leaves these alone.
//
// Every grant is made before the decision that starts its period is written, under an id
// derived from the plan and the period's start: a retry, a second process or a second
// Advance grants it once.
//
// An account on a test clock is left out of the real-time upkeep altogether: its clock
// expires its grants and holds, and grants its calendar months when it has no
// subscription, step by step with its billing (advanceOnClock).

// Limits of the upkeep of test clocks.
const (
	// clockMonthsMax bounds the calendar months one stretch of a test clock's advance
	// grants: every month of the longest advance.
	clockMonthsMax = billow.TestClockAdvanceDaysMax/28 + 2
	// expirePagesMax bounds the pages of expiries (a page is what one store call expires)
	// of one account at one time, so that an advance ends.
	expirePagesMax = 100
)

// grantCycle grants the included credits of plan for the period [start, end) of a
// subscription, if it includes any.
func (s *Service) grantCycle(ctx context.Context, st *accountState, planKey, interval string, start, end time.Time) error {
	p, ok := st.cat.Plan(planKey)
	if !ok { // the plan left the catalog: it includes nothing any more
		return nil
	}
	return s.grantFree(ctx, credits.CycleGrant(st.account.ID, p, interval, start, end, st.loc))
}

// grantChange grants what a change from plan from to sub's plan at time at adds to the
// included credits of sub's current period.
func (s *Service) grantChange(ctx context.Context, st *accountState, from string, sub *billow.Subscription, at time.Time) error {
	if from == sub.Plan {
		return nil
	}
	to, ok := st.cat.Plan(sub.Plan)
	if !ok {
		return nil
	}
	old, _ := st.cat.Plan(from) // nil, including nothing, if it left the catalog
	return s.grantFree(ctx, credits.UpgradeGrant(st.account.ID, old, to, sub.Interval, sub.CurrentPeriodStart, at, sub.CurrentPeriodEnd, st.loc))
}

// grantFree makes a grant of included credits, nil for none. Its id is derived from its
// period, so a grant made already is no error: the same again returns it, and one made
// under the id with other content (the catalog's amount changed, the plan changed back)
// stays as it was. A period that has already ended in the ledger's time gets nothing:
// the ledger runs on the real clock and refuses a grant that would expire before it is
// made (a replay of past periods, a test clock behind the real time); its credits could
// not be spent anyway.
func (s *Service) grantFree(ctx context.Context, in *billow.CreateGrantInput) error {
	if in == nil {
		return nil
	}
	_, err := s.store.PostGrant(ctx, *in)
	if err == nil || isCode(err, billow.CodeIdempotencyReused) || expiredOnArrival(err) {
		return nil
	}
	return fmt.Errorf("billing: included credits %s: %w", in.ID, err)
}

// expiredOnArrival reports whether err refuses a grant for its expiry alone.
func expiredOnArrival(err error) bool {
	var e *billow.Error
	if !errors.As(err, &e) || e.Code != billow.CodeValidationFailed || len(e.Fields) != 1 {
		return false
	}
	return e.Fields[0].Field == "expires_at"
}

// advanceOnClock runs an account on a test clock from its clock's previous time from to
// its new time to: its subscription's steps, each at its time, and before each step the
// upkeep due by then, as the real-time upkeep would have done it: its grants and holds
// that expired, and its calendar-month grants if no subscription's cycle grants them. So
// the free credits of a period expire at its end, before the renewal grants the next.
func (s *Service) advanceOnClock(ctx context.Context, accountID string, from, to time.Time) error {
	at := from
	for range AdvanceStepsMax {
		st, err := s.load(ctx, accountID) // again each time: a step may change the plan
		if err != nil {
			return err
		}
		sub, err := s.store.LiveSubscription(ctx, accountID)
		if isCode(err, billow.CodeNoSubscription) {
			sub = nil
		} else if err != nil {
			return err
		}
		next, stepDue := to, false
		if sub != nil {
			open, err := s.openInvoicesOf(ctx, sub)
			if err != nil {
				return err
			}
			stp, err := s.nextStep(ctx, st, sub, open, to)
			if err != nil {
				return err
			}
			if stp != nil {
				next, stepDue = stp.at, true
			}
		}
		if err := s.monthUpkeep(ctx, st, sub, at, next); err != nil {
			return err
		}
		if err := s.expireDue(ctx, accountID, next); err != nil {
			return err
		}
		if !stepDue {
			return nil
		}
		// Every step due at next, and only those: none is due earlier.
		if err := s.advance(ctx, st, sub, next); err != nil {
			return err
		}
		at = next
	}
	return nil
}

// monthUpkeep grants an account on a test clock the included credits of each calendar
// month that overlaps [from, to], as the credit upkeep does in real time, when no
// subscription's cycle grants them; each month's grant expires before the next arrives.
func (s *Service) monthUpkeep(ctx context.Context, st *accountState, sub *billow.Subscription, from, to time.Time) error {
	var plan *catalog.Plan
	if st.account.Plan != "" {
		plan, _ = st.cat.Plan(st.account.Plan)
	}
	if plan == nil || plan.IncludedCredits == nil || (sub != nil && credits.Subscribed(sub.Status) && credits.Cycled(plan, sub.Interval)) {
		return nil
	}
	t := from
	for range clockMonthsMax {
		in, end, err := credits.IncludedGrant(st.account, plan, t)
		if err != nil {
			return err
		}
		if err := s.grantFree(ctx, in); err != nil {
			return err
		}
		if end.After(to) {
			return nil
		}
		if err := s.expireDue(ctx, st.account.ID, end); err != nil {
			return err
		}
		t = end
	}
	return nil
}

// expireDue expires an account's holds, then its grants, due at or before at.
func (s *Service) expireDue(ctx context.Context, accountID string, at time.Time) error {
	for _, expire := range []func(context.Context, string, time.Time) (int, error){s.store.ExpireHoldsAt, s.store.ExpireGrantsAt} {
		for range expirePagesMax {
			n, err := expire(ctx, accountID, at)
			if err != nil {
				return fmt.Errorf("billing: upkeep of %s at %s: %w", accountID, at.Format(time.RFC3339), err)
			}
			if n == 0 {
				break
			}
		}
	}
	return nil
}
