package keywarden_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/keywarden/keywarden"
)

// testNow is the fake clock of the API key tests.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const (
	testOrgID     = "0123456789abcdef0123456789abcdef"
	otherOrgID    = "fedcba9876543210fedcba9876543210"
	testProcessID = "00000000000000000000000000000001"
	otherProcess  = "00000000000000000000000000000002"
)

func rfc3339(t time.Time) string { return t.Format(time.RFC3339) }

// testMintParams returns the parameters of an organization key minted by the
// command line (no grantor) in an organization with the default policy.
func testMintParams(tb testing.TB) keywarden.MintParams {
	tb.Helper()
	return keywarden.MintParams{
		Org:       &keywarden.Organization{ID: testOrgID, Name: "Acme"},
		Catalogue: keywarden.MustDefaultCatalogue(),
		Now:       testNow,
		CreatedBy: keywarden.Actor{Type: keywarden.ActorCLI},
	}
}

func testRequest() keywarden.CreateAPIKeyRequest {
	return keywarden.CreateAPIKeyRequest{
		Name:   "CI upload",
		Scopes: []string{"workspace.file:upload"},
		Exp:    rfc3339(testNow.Add(90 * 24 * time.Hour)),
	}
}

// MustMintAPIKey mints a key or fails the test.
func MustMintAPIKey(tb testing.TB, req keywarden.CreateAPIKeyRequest, p keywarden.MintParams) (*keywarden.APIKey, keywarden.KeyMaterial) {
	tb.Helper()
	k, km, err := keywarden.MintAPIKey(req, p)
	if err != nil {
		tb.Fatalf("MintAPIKey: %v", err)
	}
	return k, km
}

func TestMintAPIKeyOrganizationKey(t *testing.T) {
	p := testMintParams(t)
	p.CreatedBy = keywarden.Actor{Type: keywarden.ActorUser, ID: "u1", Name: "Ada"}
	req := keywarden.CreateAPIKeyRequest{Name: "  CI upload  ", Scopes: []string{"all"}, Exp: rfc3339(testNow.Add(90 * 24 * time.Hour))}
	k, km := MustMintAPIKey(t, req, p)

	if !keywarden.IsID(k.ID) {
		t.Errorf("ID = %q, want a random ID", k.ID)
	}
	if k.OrgID != testOrgID || k.ProcessID != "" || k.Level() != keywarden.LevelOrganization {
		t.Errorf("OrgID, ProcessID, Level = %q, %q, %q; want %q, \"\", organization", k.OrgID, k.ProcessID, k.Level(), testOrgID)
	}
	if k.Name != "CI upload" {
		t.Errorf("Name = %q, want it trimmed to %q", k.Name, "CI upload")
	}
	if !strings.HasPrefix(k.User, keywarden.DefaultOrgKeyPrefix) || k.User != km.User || !keywarden.ValidKeyID(k.User) {
		t.Errorf("User = %q (material %q), want a kwo_ key ID shared with the material", k.User, km.User)
	}
	if got, want := sorted(k.Scopes), sorted(designScopes); !slices.Equal(got, want) {
		t.Errorf("Scopes = %v, want every scope listed explicitly", k.Scopes)
	}
	if k.SecretHash != keywarden.HashSecret(km.Secret) {
		t.Error("SecretHash is not HashSecret of the material's secret")
	}
	if !k.ExpiresAt.Equal(testNow.Add(90*24*time.Hour)) || k.ExpiresAt.Location() != time.UTC {
		t.Errorf("ExpiresAt = %v, want %v", k.ExpiresAt, testNow.Add(90*24*time.Hour))
	}
	if !k.CreatedAt.Equal(testNow) {
		t.Errorf("CreatedAt = %v, want %v", k.CreatedAt, testNow)
	}
	if k.CreatedBy != p.CreatedBy {
		t.Errorf("CreatedBy = %+v, want %+v", k.CreatedBy, p.CreatedBy)
	}
	if !k.LastUsedAt.IsZero() {
		t.Errorf("LastUsedAt = %v, want zero", k.LastUsedAt)
	}
	if got := MustParseKey(t, km.Value()); got != km {
		t.Errorf("ParseKey(Value()) = %+v, want the material back", got)
	}
}

func TestMintAPIKeyProcessKey(t *testing.T) {
	p := testMintParams(t)
	p.ProcessID = testProcessID
	req := testRequest()
	req.Scopes = []string{"all"}
	k, km := MustMintAPIKey(t, req, p)

	if k.ProcessID != testProcessID || k.Level() != keywarden.LevelProcess {
		t.Errorf("ProcessID, Level = %q, %q; want %q, process", k.ProcessID, k.Level(), testProcessID)
	}
	if !strings.HasPrefix(k.User, keywarden.DefaultProcessKeyPrefix) || !strings.HasPrefix(km.Value(), keywarden.DefaultProcessKeyPrefix) {
		t.Errorf("User = %q, want prefix %q", k.User, keywarden.DefaultProcessKeyPrefix)
	}
	if got, want := sorted(k.Scopes), sorted(designProcessScopes); !slices.Equal(got, want) {
		t.Errorf("Scopes = %v, want the process-level scopes listed explicitly", k.Scopes)
	}
}

func TestMintAPIKeyStoresChosenScopesInCatalogueOrder(t *testing.T) {
	req := testRequest()
	req.Scopes = []string{"workspace.result:read", "workspace.file:upload", "workspace.result:read"}
	k, _ := MustMintAPIKey(t, req, testMintParams(t))
	if want := []keywarden.Scope{"workspace.file:upload", "workspace.result:read"}; !slices.Equal(k.Scopes, want) {
		t.Errorf("Scopes = %v, want %v", k.Scopes, want)
	}
}

func TestMintAPIKeyScopesAreTheKeysOwn(t *testing.T) {
	p := testMintParams(t)
	req := testRequest()
	req.Scopes = []string{"all"}
	a, _ := MustMintAPIKey(t, req, p)
	a.Scopes[0] = "evil.scope:grant"
	b, _ := MustMintAPIKey(t, req, p)
	if slices.Contains(b.Scopes, "evil.scope:grant") || slices.Contains(p.Catalogue.ForLevel(keywarden.LevelOrganization), "evil.scope:grant") {
		t.Error("changing one key's scopes changed another key or the catalogue")
	}
}

func TestMintAPIKeyTimestamps(t *testing.T) {
	p := testMintParams(t)
	p.Now = time.Date(2026, 3, 1, 13, 0, 0, 123456789, time.FixedZone("CET", 3600))
	req := testRequest()
	req.Exp = "2026-05-01T10:30:00.75+02:00"
	k, _ := MustMintAPIKey(t, req, p)

	if want := time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC); k.CreatedAt != want {
		t.Errorf("CreatedAt = %v, want Now in UTC truncated to microseconds, %v", k.CreatedAt, want)
	}
	if want := time.Date(2026, 5, 1, 8, 30, 0, 0, time.UTC); k.ExpiresAt != want {
		t.Errorf("ExpiresAt = %v, want exp in UTC truncated to seconds, %v", k.ExpiresAt, want)
	}
}

func TestMintAPIKeyCustomPrefix(t *testing.T) {
	for _, processID := range []string{"", testProcessID} {
		p := testMintParams(t)
		p.Prefix = "acme_"
		p.ProcessID = processID
		k, km := MustMintAPIKey(t, testRequest(), p)
		if !strings.HasPrefix(k.User, "acme_") || !strings.HasPrefix(km.Value(), "acme_") {
			t.Errorf("level %s: User = %q, want prefix acme_", k.Level(), k.User)
		}
	}
	t.Run("invalid prefix fails", func(t *testing.T) {
		p := testMintParams(t)
		p.Prefix = "ACME"
		if k, _, err := keywarden.MintAPIKey(testRequest(), p); err == nil {
			t.Errorf("MintAPIKey = key %q, want an error", k.User)
		}
	})
}

func TestMintAPIKeyRandomnessFailureFails(t *testing.T) {
	p := testMintParams(t)
	p.Rand = iotest.ErrReader(errors.New("no entropy"))
	k, km, err := keywarden.MintAPIKey(testRequest(), p)
	if keywarden.ErrorCode(err) != keywarden.EINTERNAL {
		t.Errorf("ErrorCode = %q, want %q", keywarden.ErrorCode(err), keywarden.EINTERNAL)
	}
	if k != nil || km != (keywarden.KeyMaterial{}) {
		t.Errorf("MintAPIKey returned a key with its error")
	}
}

func TestMintAPIKeyValidation(t *testing.T) {
	type field struct{ Location, Type string }
	const day = 24 * time.Hour

	for _, tc := range []struct {
		name        string
		edit        func(*keywarden.CreateAPIKeyRequest, *keywarden.MintParams)
		wantFields  []field // nil: the key is minted
		wantMessage string  // checked when set
	}{
		{"valid request is minted", func(*keywarden.CreateAPIKeyRequest, *keywarden.MintParams) {}, nil, ""},
		{"100-character name is accepted", func(r *keywarden.CreateAPIKeyRequest, _ *keywarden.MintParams) {
			r.Name = strings.Repeat("é", 100)
		}, nil, ""},

		{"empty name is required", func(r *keywarden.CreateAPIKeyRequest, _ *keywarden.MintParams) { r.Name = "" },
			[]field{{"body: name", "required"}}, ""},
		{"whitespace name is required", func(r *keywarden.CreateAPIKeyRequest, _ *keywarden.MintParams) { r.Name = " \t\n " },
			[]field{{"body: name", "required"}}, ""},
		{"300-character name is too long", func(r *keywarden.CreateAPIKeyRequest, _ *keywarden.MintParams) { r.Name = strings.Repeat("a", 300) },
			[]field{{"body: name", "too_long"}}, ""},
		{"101-character name is too long", func(r *keywarden.CreateAPIKeyRequest, _ *keywarden.MintParams) { r.Name = strings.Repeat("a", 101) },
			[]field{{"body: name", "too_long"}}, ""},
		{"name with a control character is invalid", func(r *keywarden.CreateAPIKeyRequest, _ *keywarden.MintParams) { r.Name = "CI\x1b[31mupload" },
			[]field{{"body: name", "invalid"}}, ""},
		{"name with a newline inside is invalid", func(r *keywarden.CreateAPIKeyRequest, _ *keywarden.MintParams) { r.Name = "CI\nupload" },
			[]field{{"body: name", "invalid"}}, ""},
		{"name with invalid UTF-8 is invalid", func(r *keywarden.CreateAPIKeyRequest, _ *keywarden.MintParams) { r.Name = "CI \xff" },
			[]field{{"body: name", "invalid"}}, ""},

		{"missing exp is required", func(r *keywarden.CreateAPIKeyRequest, _ *keywarden.MintParams) { r.Exp = "" },
			[]field{{"body: exp", "required"}}, ""},
		{"date-only exp is invalid", func(r *keywarden.CreateAPIKeyRequest, _ *keywarden.MintParams) { r.Exp = "2026-06-01" },
			[]field{{"body: exp", "invalid"}}, ""},
		{"exp without a zone is invalid", func(r *keywarden.CreateAPIKeyRequest, _ *keywarden.MintParams) { r.Exp = "2026-06-01T00:00:00" },
			[]field{{"body: exp", "invalid"}}, ""},
		{"Unix time exp is invalid", func(r *keywarden.CreateAPIKeyRequest, _ *keywarden.MintParams) { r.Exp = "1780272000" },
			[]field{{"body: exp", "invalid"}}, ""},
		{"words for exp are invalid", func(r *keywarden.CreateAPIKeyRequest, _ *keywarden.MintParams) { r.Exp = "in 90 days" },
			[]field{{"body: exp", "invalid"}}, ""},
		{"exp in the past is refused", func(r *keywarden.CreateAPIKeyRequest, _ *keywarden.MintParams) { r.Exp = rfc3339(testNow.Add(-day)) },
			[]field{{"body: exp", "in_past"}}, ""},
		{"exp equal to now is refused", func(r *keywarden.CreateAPIKeyRequest, _ *keywarden.MintParams) { r.Exp = rfc3339(testNow) },
			[]field{{"body: exp", "in_past"}}, ""},
		{"exp one second from now is accepted", func(r *keywarden.CreateAPIKeyRequest, _ *keywarden.MintParams) {
			r.Exp = rfc3339(testNow.Add(time.Second))
		}, nil, ""},
		{"exp exactly at the default maximum is accepted", func(r *keywarden.CreateAPIKeyRequest, _ *keywarden.MintParams) {
			r.Exp = rfc3339(testNow.Add(365 * day))
		}, nil, ""},
		{"exp beyond the default maximum is refused", func(r *keywarden.CreateAPIKeyRequest, _ *keywarden.MintParams) {
			r.Exp = rfc3339(testNow.Add(365*day + time.Second))
		}, []field{{"body: exp", "beyond_policy"}}, ""},
		{"exp exactly at the organization's maximum is accepted", func(r *keywarden.CreateAPIKeyRequest, p *keywarden.MintParams) {
			p.Org.MaxKeyLifetime = 30 * day
			r.Exp = rfc3339(testNow.Add(30 * day))
		}, nil, ""},
		{"exp beyond the organization's maximum is refused", func(r *keywarden.CreateAPIKeyRequest, p *keywarden.MintParams) {
			p.Org.MaxKeyLifetime = 30 * day
			r.Exp = rfc3339(testNow.Add(30*day + time.Second))
		}, []field{{"body: exp", "beyond_policy"}}, ""},
		{"exp allowed by default but beyond a shorter policy is refused", func(r *keywarden.CreateAPIKeyRequest, p *keywarden.MintParams) {
			p.Org.MaxKeyLifetime = 30 * day
			r.Exp = rfc3339(testNow.Add(90 * day))
		}, []field{{"body: exp", "beyond_policy"}}, ""},
		{"exp within a longer policy is accepted", func(r *keywarden.CreateAPIKeyRequest, p *keywarden.MintParams) {
			p.Org.MaxKeyLifetime = 730 * day
			r.Exp = rfc3339(testNow.Add(700 * day))
		}, nil, ""},

		{"missing scopes are required", func(r *keywarden.CreateAPIKeyRequest, _ *keywarden.MintParams) { r.Scopes = nil },
			[]field{{"body: scopes", "required"}}, ""},
		{"unknown scope is refused", func(r *keywarden.CreateAPIKeyRequest, _ *keywarden.MintParams) {
			r.Scopes = []string{"workspace.file:upload", "workspace.file:shred"}
		}, []field{{"body: scopes[1]", "unknown_scope"}}, ""},
		{"organization scope in a process key is refused", func(r *keywarden.CreateAPIKeyRequest, p *keywarden.MintParams) {
			p.ProcessID = testProcessID
			r.Scopes = []string{"workspace.admin.api_key:manage"}
		}, []field{{"body: scopes[0]", "scope_not_allowed"}}, ""},

		{"several invalid fields are reported at once", func(r *keywarden.CreateAPIKeyRequest, _ *keywarden.MintParams) {
			*r = keywarden.CreateAPIKeyRequest{Name: "", Scopes: []string{"nope"}, Exp: "soon"}
		}, []field{{"body: name", "required"}, {"body: scopes[0]", "unknown_scope"}, {"body: exp", "invalid"}}, "The request has invalid fields."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, p := testRequest(), testMintParams(t)
			tc.edit(&req, &p)
			k, km, err := keywarden.MintAPIKey(req, p)
			if tc.wantFields == nil {
				if err != nil {
					t.Fatalf("MintAPIKey: %v", err)
				}
				if k == nil || k.User != km.User {
					t.Fatalf("MintAPIKey returned key %+v and material for %q", k, km.User)
				}
				return
			}
			if keywarden.ErrorCode(err) != keywarden.EINVALID {
				t.Fatalf("MintAPIKey error = %v, want code %q", err, keywarden.EINVALID)
			}
			if k != nil || km != (keywarden.KeyMaterial{}) {
				t.Errorf("MintAPIKey returned a key with its error")
			}
			var got []field
			for _, f := range keywarden.ErrorFields(err) {
				got = append(got, field{f.Location, f.Type})
			}
			if !slices.Equal(got, tc.wantFields) {
				t.Errorf("fields = %v, want %v", got, tc.wantFields)
			}
			if tc.wantMessage != "" && keywarden.ErrorMessage(err) != tc.wantMessage {
				t.Errorf("ErrorMessage = %q, want %q", keywarden.ErrorMessage(err), tc.wantMessage)
			}
		})
	}
}

func TestMintAPIKeyNoEscalation(t *testing.T) {
	catalogue := keywarden.MustDefaultCatalogue()
	orgAll := catalogue.ForLevel(keywarden.LevelOrganization)
	processAll := catalogue.ForLevel(keywarden.LevelProcess)
	orgGrantor := func(scopes ...keywarden.Scope) *keywarden.Principal {
		return &keywarden.Principal{OrgID: testOrgID, Scopes: scopes}
	}
	processGrantor := func(scopes ...keywarden.Scope) *keywarden.Principal {
		return &keywarden.Principal{OrgID: testOrgID, ProcessID: testProcessID, Scopes: scopes}
	}

	for _, tc := range []struct {
		name      string
		grantor   *keywarden.Principal
		processID string
		scopes    []string
		wantCode  string // "" when the key is minted
	}{
		{"command line may grant every scope", nil, "", []string{"all"}, ""},
		{"command line may mint a process key", nil, testProcessID, []string{"all"}, ""},
		{"organization grantor with every scope may grant all", orgGrantor(orgAll...), "", []string{"all"}, ""},
		{"organization grantor may grant a scope it holds", orgGrantor("workspace.file:upload"), "", []string{"workspace.file:upload"}, ""},
		{"organization grantor may mint a key for any of its processes", orgGrantor(processAll...), otherProcess, []string{"all"}, ""},
		{"process grantor may mint a key for its own process", processGrantor(processAll...), testProcessID, []string{"all"}, ""},
		{"process grantor may grant a subset", processGrantor("workspace.file:upload", "workspace.result:read"), testProcessID, []string{"workspace.result:read"}, ""},

		{"grantor lacking a scope is forbidden", orgGrantor("workspace.file:upload"), "", []string{"workspace.file:upload", "workspace.file:download"}, keywarden.EFORBIDDEN},
		{"grantor lacking scopes may not grant all", orgGrantor("workspace.file:upload"), "", []string{"all"}, keywarden.EFORBIDDEN},
		{"grantor with no scopes is forbidden", orgGrantor(), "", []string{"workspace.file:upload"}, keywarden.EFORBIDDEN},
		{"process grantor lacking a process scope may not grant all", processGrantor(processAll[1:]...), testProcessID, []string{"all"}, keywarden.EFORBIDDEN},
		{"process grantor may not mint an organization key", processGrantor(orgAll...), "", []string{"workspace.file:upload"}, keywarden.EFORBIDDEN},
		{"process grantor may not mint for another process", processGrantor(processAll...), otherProcess, []string{"workspace.file:upload"}, keywarden.EFORBIDDEN},
		{"grantor of another organization is forbidden", &keywarden.Principal{OrgID: otherOrgID, Scopes: orgAll}, "", []string{"workspace.file:upload"}, keywarden.EFORBIDDEN},
		{"grantor of another organization may not mint a process key", &keywarden.Principal{OrgID: otherOrgID, Scopes: orgAll}, testProcessID, []string{"workspace.file:upload"}, keywarden.EFORBIDDEN},
		{"grantor without an organization is forbidden", &keywarden.Principal{Scopes: orgAll}, "", []string{"workspace.file:upload"}, keywarden.EFORBIDDEN},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := testMintParams(t)
			p.Grantor, p.ProcessID = tc.grantor, tc.processID
			req := testRequest()
			req.Scopes = tc.scopes
			k, km, err := keywarden.MintAPIKey(req, p)
			if got := keywarden.ErrorCode(err); got != tc.wantCode {
				t.Fatalf("MintAPIKey error = %v, want code %q", err, tc.wantCode)
			}
			if tc.wantCode != "" {
				if k != nil || km != (keywarden.KeyMaterial{}) {
					t.Errorf("MintAPIKey returned a key with its error")
				}
				return
			}
			if tc.grantor != nil {
				for _, s := range k.Scopes {
					if !tc.grantor.HasScope(s) {
						t.Errorf("minted key holds %q, which its grantor does not", s)
					}
				}
			}
		})
	}
	t.Run("refusal names the missing scope", func(t *testing.T) {
		p := testMintParams(t)
		p.Grantor = orgGrantor("workspace.file:upload")
		req := testRequest()
		req.Scopes = []string{"workspace.file:upload", "workspace.result:delete"}
		_, _, err := keywarden.MintAPIKey(req, p)
		if msg := keywarden.ErrorMessage(err); !strings.Contains(msg, "workspace.result:delete") || strings.Contains(msg, "workspace.file:upload") {
			t.Errorf("ErrorMessage = %q, want it to name workspace.result:delete only", msg)
		}
	})
}

func TestAPIKeyExpiry(t *testing.T) {
	exp := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	k := &keywarden.APIKey{ExpiresAt: exp}
	for _, tc := range []struct {
		name        string
		now         time.Time
		wantExpired bool
		wantStatus  string
	}{
		{"long before exp is active", exp.Add(-30 * 24 * time.Hour), false, "Active"},
		{"one nanosecond before exp is active", exp.Add(-time.Nanosecond), false, "Active"},
		{"at exp is expired", exp, true, "Expired"},
		{"at exp in another zone is expired", exp.In(time.FixedZone("EST", -5*3600)), true, "Expired"},
		{"one nanosecond after exp is expired", exp.Add(time.Nanosecond), true, "Expired"},
		{"long after exp is expired", exp.Add(365 * 24 * time.Hour), true, "Expired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := k.Expired(tc.now); got != tc.wantExpired {
				t.Errorf("Expired(%v) = %v, want %v", tc.now, got, tc.wantExpired)
			}
			if got := k.Status(tc.now); got != tc.wantStatus {
				t.Errorf("Status(%v) = %q, want %q", tc.now, got, tc.wantStatus)
			}
		})
	}
}

func TestAPIKeyLevel(t *testing.T) {
	if got := (&keywarden.APIKey{}).Level(); got != keywarden.LevelOrganization {
		t.Errorf("key without a process: Level = %q, want organization", got)
	}
	if got := (&keywarden.APIKey{ProcessID: testProcessID}).Level(); got != keywarden.LevelProcess {
		t.Errorf("key of a process: Level = %q, want process", got)
	}
}
