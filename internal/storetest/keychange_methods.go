package storetest

import (
	"context"
	"reflect"
	"testing"

	"github.com/keywarden/keywarden"
)

// keyChangingMethods classifies every method of keywarden.Store: true when
// it changes which keys verify. The verification cache wraps none of the
// store's writes; it learns of such changes only from the store's change
// log, so each method marked true must write its change to the log in its
// own transaction, and testKeyChangingMethodsAreLogged holds each one to it.
// A method added to keywarden.Store fails the suite until it is classified
// here, so a new key-changing method (a rotation, an edit of scopes) cannot
// be forgotten by the cache.
func keyChangingMethods() map[string]bool {
	return map[string]bool{
		"CreateAPIKey":  true,
		"DeleteAPIKey":  true,
		"DeleteProcess": true,
		// Every key of a process or organization, one entry per key.
		"RevokeAPIKeys": true,
		"RotateAPIKey":  true,
		"UpdateAPIKey":  true,
		// Ends a rotation's grace period: the old secret is forgotten.
		"EndPreviousSecrets": true,

		// Last use and usage counts are not part of verification.
		"RecordKeyUsage": false, "FindKeyUsage": false, "PruneKeyUsage": false,

		"AcceptInvite": false, "Close": false, "CreateInvite": false, "CreateOrganization": false,
		"CreateProcess": false, "CreateSession": false, "DeleteExpiredSessions": false, "DeleteSession": false,
		"APIKeysAfter": false, "FindAPIKey": false, "FindAPIKeyByUser": false, "FindAPIKeys": false, "FindAPIKeysExpiring": false,
		// Webhooks follow the log; they change no key.
		"CreateWebhook": false, "FindWebhook": false, "FindWebhooks": false, "UpdateWebhook": false, "DeleteWebhook": false,
		"EnqueueWebhookEvents": false, "EnqueueWebhookDelivery": false, "ClaimWebhookDeliveries": false,
		"CompleteWebhookAttempt": false, "FindWebhookDeliveries": false, "FindWebhookDelivery": false, "RedeliverWebhookDelivery": false,
		// Reminders in the log, for webhooks; the key verifies as before.
		"RecordExpiryReminders": false, "FindAuditEvents": false, "FindAuditEventsAfter": false,
		"FindInvite": false, "FindMembers": false, "FindMembership": false, "FindOrganizationByID": false,
		"FindOrganizationByName": false, "FindOrganizations": false, "FindProcess": false,
		"FindProcessGrants": false, "FindProcesses": false, "FindSession": false, "FindUserByEmail": false,
		"FindUserByID": false, "FindUserGrants": false, "FindUserMemberships": false, "KeyChangesSince": false,
		"LatestKeyChange": false, "Ping": false, "RecordAuditEvent": false, "RemoveMember": false, "RemoveProcessGrant": false,
		"RenameProcess": false, "SetMemberRole": false, "SetProcessGrant": false, "SetUserPassword": false, "UpdateOrganization": false,
	}
}

// testKeyChangingMethodsAreLogged: every method of keywarden.Store is
// classified, and each one that changes keys writes exactly the change it
// makes to the log.
func testKeyChangingMethodsAreLogged(t *testing.T, newStore func(t *testing.T) keywarden.Store) {
	t.Parallel()
	classes := keyChangingMethods()
	st := reflect.TypeFor[keywarden.Store]()
	for i := range st.NumMethod() {
		if name := st.Method(i).Name; !hasKey(classes, name) {
			t.Errorf("keywarden.Store.%s is not classified in storetest.keyChangingMethods: say whether it changes which keys verify", name)
		}
	}
	for name := range classes {
		if _, ok := st.MethodByName(name); !ok {
			t.Errorf("storetest.keyChangingMethods lists %s, which keywarden.Store does not have", name)
		}
	}

	ctx := context.Background()
	s := newStore(t)
	org, _ := MustCreateOrganization(t, s)
	// Each exercise prepares what it needs, then makes its change with the
	// method it is named for and returns the change the log must hold.
	exercises := map[string]func() keywarden.KeyChange{
		"CreateAPIKey": func() keywarden.KeyChange {
			p := MustCreateProcess(t, s, org.ID, At(0))
			k := NewAPIKey(t, org.ID, p.ID, At(1))
			after := mustLatest(t, s)
			if err := s.CreateAPIKey(ctx, k, nil); err != nil {
				t.Fatal(err)
			}
			return wantLogged(t, s, after, keywarden.ChangeOf(keywarden.KeyChangeCreated, k))
		},
		"DeleteAPIKey": func() keywarden.KeyChange {
			k := MustCreateAPIKey(t, s, org.ID, "", At(2))
			after := mustLatest(t, s)
			if err := DeleteAPIKey(ctx, s, org.ID, k.ID, nil); err != nil {
				t.Fatal(err)
			}
			return wantLogged(t, s, after, keywarden.ChangeOf(keywarden.KeyChangeDeleted, k))
		},
		"RotateAPIKey": func() keywarden.KeyChange {
			k := MustCreateAPIKey(t, s, org.ID, "", At(5))
			after := mustLatest(t, s)
			if _, err := s.RotateAPIKey(ctx, keywarden.APIKeyRef{OrgID: org.ID, ID: k.ID}, keywarden.Rotation{SecretHash: keywarden.HashSecret("new")}, nil); err != nil {
				t.Fatal(err)
			}
			return wantLogged(t, s, after, keywarden.ChangeOf(keywarden.KeyChangeRotated, k))
		},
		"UpdateAPIKey": func() keywarden.KeyChange {
			k := MustCreateAPIKey(t, s, org.ID, "", At(8))
			after := mustLatest(t, s)
			if _, err := s.UpdateAPIKey(ctx, keywarden.APIKeyRef{OrgID: org.ID, ID: k.ID}, func(cur *keywarden.APIKey) (*keywarden.APIKey, error) { return cur, nil }, nil); err != nil {
				t.Fatal(err)
			}
			return wantLogged(t, s, after, keywarden.ChangeOf(keywarden.KeyChangeUpdated, k))
		},
		"EndPreviousSecrets": func() keywarden.KeyChange {
			k := MustCreateAPIKey(t, s, org.ID, "", At(6))
			if _, err := s.RotateAPIKey(ctx, keywarden.APIKeyRef{OrgID: org.ID, ID: k.ID}, keywarden.Rotation{SecretHash: keywarden.HashSecret("new"), PreviousSecretExpiresAt: At(7)}, nil); err != nil {
				t.Fatal(err)
			}
			after := mustLatest(t, s)
			if _, err := s.EndPreviousSecrets(ctx, At(7), nil); err != nil {
				t.Fatal(err)
			}
			return wantLogged(t, s, after, keywarden.ChangeOf(keywarden.KeyChangePreviousSecretEnded, k))
		},
		"RevokeAPIKeys": func() keywarden.KeyChange {
			p := MustCreateProcess(t, s, org.ID, At(8))
			k := MustCreateAPIKey(t, s, org.ID, p.ID, At(9))
			after := mustLatest(t, s)
			if _, err := s.RevokeAPIKeys(ctx, keywarden.RevokeAll{OrgID: org.ID, ProcessID: p.ID}); err != nil {
				t.Fatal(err)
			}
			return wantLogged(t, s, after, keywarden.ChangeOf(keywarden.KeyChangeDeleted, k))
		},
		"DeleteProcess": func() keywarden.KeyChange {
			p := MustCreateProcess(t, s, org.ID, At(3))
			k := MustCreateAPIKey(t, s, org.ID, p.ID, At(4))
			after := mustLatest(t, s)
			if err := s.DeleteProcess(ctx, org.ID, p.ID, nil); err != nil {
				t.Fatal(err)
			}
			return wantLogged(t, s, after, keywarden.ChangeOf(keywarden.KeyChangeDeleted, k),
				keywarden.KeyChange{Kind: keywarden.KeyChangeProcessDeleted, ProcessID: p.ID, OrgID: org.ID})
		},
	}
	for name, changes := range classes {
		if !changes {
			continue
		}
		ex, ok := exercises[name]
		if !ok {
			t.Errorf("%s changes keys but testKeyChangingMethodsAreLogged has no exercise for it: add one that checks it writes the change log", name)
			continue
		}
		t.Run(name, func(t *testing.T) { ex() })
	}
}

func hasKey(m map[string]bool, k string) bool {
	_, ok := m[k]
	return ok
}

func mustLatest(t *testing.T, s keywarden.Store) int64 {
	t.Helper()
	seq, err := s.LatestKeyChange(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

// wantLogged fails unless the log holds exactly want after seq.
func wantLogged(t *testing.T, s keywarden.Store, after int64, want ...keywarden.KeyChange) keywarden.KeyChange {
	t.Helper()
	changes, err := s.KeyChangesSince(context.Background(), after, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != len(want) {
		t.Fatalf("the change log after it holds %+v, want exactly %+v", changes, want)
	}
	for i, got := range changes {
		got.Seq = 0
		if got != want[i] {
			t.Fatalf("the change log holds %+v, want %+v", got, want[i])
		}
	}
	return changes[len(changes)-1]
}
