package server

import (
	"net/http"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/api"
)

// The usage endpoints answer how a key was used, per hour: what the
// console charts. Each node writes its counts in the background
// (Config.Usage), so the current hour lags by up to one flush interval.

func (s *server) handleOrgKeyUsage(w http.ResponseWriter, r *http.Request) error {
	return s.keyUsage(w, r, "")
}

func (s *server) handleProcessKeyUsage(w http.ResponseWriter, r *http.Request) error {
	p, err := s.findProcess(r)
	if err != nil {
		return err
	}
	return s.keyUsage(w, r, p.ID)
}

// keyUsage answers the usage of the key named by the path if it belongs
// to the caller's organization and to processID (empty: an organization
// key); anything else is the same 404 as for the key itself, and so is a
// key deleted between the two reads.
func (s *server) keyUsage(w http.ResponseWriter, r *http.Request, processID string) error {
	from, to, err := usageRangeFrom(r, s.Now())
	if err != nil {
		return err
	}
	k, err := s.findKey(r, processID)
	if err != nil {
		return err
	}
	counts, err := s.usage.FindKeyUsage(r.Context(), k.OrgID, k.ID, from, to)
	if keywarden.ErrorCode(err) == keywarden.ENOTFOUND {
		return errAPIKeyNotFound
	} else if err != nil {
		return err
	}
	return encode(w, http.StatusOK, NewKeyUsage(from, to, counts))
}

// usageRangeFrom reads the query's from and to (RFC 3339), reporting every
// invalid parameter at once. Both are widened to whole UTC hours, the unit
// of the counts: from down to its hour's start, to up to the next one.
// Without to, the range ends with the current hour; without from, it
// starts keywarden.DefaultKeyUsageRange before to. It spans at most
// keywarden.MaxKeyUsageRange.
func usageRangeFrom(r *http.Request, now time.Time) (from, to time.Time, err error) {
	var v keywarden.Validation
	q := r.URL.Query()
	parse := func(name string) (time.Time, bool) {
		s := q.Get(name)
		if s == "" {
			return time.Time{}, false
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			v.Add("query: "+name, "invalid", "%s must be an RFC 3339 timestamp, e.g. 2026-12-01T00:00:00Z.", name)
			return time.Time{}, false
		}
		return t, true
	}
	from, hasFrom := parse("from")
	to, hasTo := parse("to")
	if err := v.Err(); err != nil {
		return time.Time{}, time.Time{}, err
	}
	if hasTo {
		to = ceilHour(to)
	} else {
		to = now.UTC().Truncate(time.Hour).Add(time.Hour) // the current hour included
	}
	if hasFrom {
		from = from.UTC().Truncate(time.Hour)
	} else {
		from = to.Add(-keywarden.DefaultKeyUsageRange)
	}
	switch {
	case !from.Before(to):
		v.Add("query: from", "invalid", "from must be before to.")
	case to.Sub(from) > keywarden.MaxKeyUsageRange:
		v.Add("query: from", "too_long", "from and to may be at most %d days apart.", int(keywarden.MaxKeyUsageRange/(24*time.Hour)))
	}
	return from, to, v.Err()
}

// ceilHour returns t, in UTC, rounded up to the start of an hour.
func ceilHour(t time.Time) time.Time {
	t = t.UTC()
	if h := t.Truncate(time.Hour); h.Before(t) {
		return h.Add(time.Hour)
	}
	return t
}

// NewKeyUsage presents a key's counts of the hours in [from, to).
func NewKeyUsage(from, to time.Time, counts []keywarden.KeyUsageCount) api.KeyUsage {
	u := api.KeyUsage{From: timestamp(from), To: timestamp(to), Usage: make([]api.KeyUsageHour, 0, len(counts))}
	for _, c := range counts {
		u.Usage = append(u.Usage, api.KeyUsageHour{Hour: timestamp(c.Hour), Succeeded: c.Succeeded, Failed: c.Failed})
	}
	return u
}
