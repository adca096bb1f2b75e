package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/keywarden/keywarden"
)

func testSessions(t *testing.T, newStore func(t *testing.T) keywarden.Store) {
	ctx := context.Background()

	wantSession := func(t *testing.T, s keywarden.Store, want *keywarden.Session) {
		t.Helper()
		got, err := s.FindSession(ctx, want.ID)
		if err != nil {
			t.Fatalf("FindSession: %v", err)
		}
		wantEqual(t, "FindSession", got, want)
	}

	t.Run("CreatedIsFound", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, owner := MustCreateOrganization(t, s)
		sess := NewSession(t, owner.ID, org.ID, At(1))
		if err := s.CreateSession(ctx, sess); err != nil {
			t.Fatalf("CreateSession: %v", err)
		}
		wantSession(t, s, sess)
		_, err := s.FindSession(ctx, MustNewID(t))
		wantCode(t, err, keywarden.ENOTFOUND)
	})

	t.Run("DuplicateIsConflict", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, owner := MustCreateOrganization(t, s)
		first := MustCreateSession(t, s, owner.ID, org.ID, At(1))
		sess := NewSession(t, owner.ID, org.ID, At(2))
		sess.ID = first.ID
		wantCode(t, s.CreateSession(ctx, sess), keywarden.ECONFLICT)
		wantSession(t, s, first)
	})

	t.Run("UnknownUserOrOrganizationIsNotFound", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, owner := MustCreateOrganization(t, s)
		for _, tt := range []struct {
			name, userID, orgID string
		}{
			{"UnknownUser", MustNewID(t), org.ID},
			{"UnknownOrganization", owner.ID, MustNewID(t)},
		} {
			t.Run(tt.name, func(t *testing.T) {
				sess := NewSession(t, tt.userID, tt.orgID, At(1))
				wantCode(t, s.CreateSession(ctx, sess), keywarden.ENOTFOUND)
				_, err := s.FindSession(ctx, sess.ID)
				wantCode(t, err, keywarden.ENOTFOUND)
			})
		}
	})

	t.Run("ExpiredIsStillFound", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, owner := MustCreateOrganization(t, s)
		sess := NewSession(t, owner.ID, org.ID, At(1))
		sess.ExpiresAt = At(2)
		if err := s.CreateSession(ctx, sess); err != nil {
			t.Fatalf("CreateSession: %v", err)
		}
		// The store has no clock: the caller checks expiry.
		wantSession(t, s, sess)
	})

	t.Run("DeletedIsGoneAndDeletingAgainIsFine", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, owner := MustCreateOrganization(t, s)
		sess := MustCreateSession(t, s, owner.ID, org.ID, At(1))
		kept := MustCreateSession(t, s, owner.ID, org.ID, At(1))
		for range 2 {
			if err := s.DeleteSession(ctx, sess.ID); err != nil {
				t.Fatalf("DeleteSession: %v", err)
			}
			_, err := s.FindSession(ctx, sess.ID)
			wantCode(t, err, keywarden.ENOTFOUND)
		}
		if err := s.DeleteSession(ctx, MustNewID(t)); err != nil {
			t.Errorf("DeleteSession of an unknown session: %v", err)
		}
		wantSession(t, s, kept)
	})

	t.Run("DeleteExpiredDeletesOnlyExpired", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		org, owner := MustCreateOrganization(t, s)
		now := At(100)
		var expired, live []*keywarden.Session
		for _, tt := range []struct {
			expiresAt time.Time
			expired   bool
		}{
			{now.Add(-time.Hour), true},
			{now, true}, // a session is valid strictly before its expiry
			{now.Add(time.Microsecond), false},
			{now.Add(time.Hour), false},
		} {
			sess := NewSession(t, owner.ID, org.ID, At(1))
			sess.ExpiresAt = tt.expiresAt
			if err := s.CreateSession(ctx, sess); err != nil {
				t.Fatalf("CreateSession: %v", err)
			}
			if tt.expired {
				expired = append(expired, sess)
			} else {
				live = append(live, sess)
			}
		}
		if err := s.DeleteExpiredSessions(ctx, now); err != nil {
			t.Fatalf("DeleteExpiredSessions: %v", err)
		}
		for _, sess := range expired {
			_, err := s.FindSession(ctx, sess.ID)
			wantCode(t, err, keywarden.ENOTFOUND)
		}
		for _, sess := range live {
			wantSession(t, s, sess)
		}
	})
}
