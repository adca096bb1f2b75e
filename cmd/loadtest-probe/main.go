// Command loadtest-probe is scripts/loadtest.sh's propagation probe: it
// creates organization keys through one node's REST API
// (POST /api/v1/admin/api-keys, with the seed's admin.key) and, the moment
// each creation has answered, uses the new key on another node
// (GET /api/v1/me). A key refused there on its first use is a false
// negative: a key that exists, refused because that node has not heard of
// it yet. The probe counts them, and for each one how long the key took
// to be accepted after all (it retries every millisecond, up to -give-up).
//
// Its last line is for the script, key=value pairs:
//
//	probe created=N refused=R errors=E create_p50_ms=… create_p99_ms=…
//	gap_p50_ms=… gap_max_ms=… use_p50_ms=… use_p99_ms=… accepted_after_max_ms=…
//
// gap is the time from the creation's answer to the first use's request
// (the probe's own delay); use is the first use's round trip.
package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "probe:", err)
		os.Exit(1)
	}
}

type result struct {
	create, gap, use time.Duration
	refused          bool
	acceptedAfter    time.Duration // since the creation answered; for refused keys
	err              error
	done             bool
}

func run(args []string) error {
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	createURL := fs.String("create", "", "base URL of the node that creates the keys, e.g. http://127.0.0.1:8080")
	useURL := fs.String("use", "", "base URL of the node that gets each key's first use")
	adminFile := fs.String("admin-key", "", "file holding an organization key with workspace.admin.api_key:manage, user:pass")
	n := fs.Int("n", 200, "keys to create (at most)")
	conc := fs.Int("c", 4, "creations in flight at once")
	forD := fs.Duration("for", 0, "stop starting creations after this long (0: only -n bounds the run)")
	delay := fs.Duration("delay", 0, "wait this long before the first creation")
	giveUp := fs.Duration("give-up", 5*time.Second, "how long to retry a refused key before counting it as never accepted")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *createURL == "" || *useURL == "" || *adminFile == "" || *n < 1 || *conc < 1 {
		return errors.New("usage: probe -create URL -use URL -admin-key FILE [-n N] [-c C] [-for D] [-delay D]")
	}
	raw, err := os.ReadFile(*adminFile)
	if err != nil {
		return err
	}
	admin := basic(strings.TrimSpace(string(raw)))
	client := &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: *conc * 2, DisableCompression: true},
	}
	time.Sleep(*delay)
	var deadline time.Time
	if *forD > 0 {
		deadline = time.Now().Add(*forD)
	}

	var next atomic.Int64
	results := make([]result, *n)
	var wg sync.WaitGroup
	for range *conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for deadline.IsZero() || time.Now().Before(deadline) {
				i := int(next.Add(1)) - 1
				if i >= *n {
					return
				}
				results[i] = probeOne(client, *createURL, *useURL, admin, i, *giveUp)
				results[i].done = true
			}
		}()
	}
	wg.Wait()
	results = slices.DeleteFunc(results, func(r result) bool { return !r.done })

	var creates, gaps, uses []time.Duration
	var refused, failed int
	var acceptedMax time.Duration
	never := 0
	for _, r := range results {
		if r.err != nil {
			failed++
			fmt.Fprintln(os.Stderr, "probe:", r.err)
			continue
		}
		creates, gaps, uses = append(creates, r.create), append(gaps, r.gap), append(uses, r.use)
		if r.refused {
			refused++
			if r.acceptedAfter < 0 {
				never++
			} else {
				acceptedMax = max(acceptedMax, r.acceptedAfter)
			}
		}
	}
	fmt.Printf("probe: %d keys created on %s and used at once on %s: %d refused on first use", len(creates), *createURL, *useURL, refused)
	if refused > 0 {
		fmt.Printf(" (accepted after at most %.1f ms; %d never within %v)", ms(acceptedMax), never, *giveUp)
	}
	fmt.Printf("; %d errors\n", failed)
	fmt.Printf("probe created=%d refused=%d errors=%d never=%d create_p50_ms=%.1f create_p99_ms=%.1f gap_p50_ms=%.3f gap_max_ms=%.3f use_p50_ms=%.2f use_p99_ms=%.2f accepted_after_max_ms=%.1f\n",
		len(creates), refused, failed, never, ms(pct(creates, 50)), ms(pct(creates, 99)), ms(pct(gaps, 50)), ms(pct(gaps, 100)),
		ms(pct(uses, 50)), ms(pct(uses, 99)), ms(acceptedMax))
	if len(creates) == 0 {
		return errors.New("no key was created")
	}
	return nil
}

// probeOne creates key i on createURL and uses it on useURL at once.
func probeOne(client *http.Client, createURL, useURL, admin string, i int, giveUp time.Duration) result {
	var r result
	body, _ := json.Marshal(map[string]any{
		"name":   fmt.Sprintf("probe %d %d", os.Getpid(), i),
		"scopes": []string{"workspace.process:read"},
		"exp":    time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
	})
	req, _ := http.NewRequest(http.MethodPost, createURL+"/api/v1/admin/api-keys", bytes.NewReader(body))
	req.Header.Set("Authorization", admin)
	req.Header.Set("Content-Type", "application/json")
	t0 := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		r.err = err
		return r
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	t1 := time.Now()
	r.create = t1.Sub(t0)
	if err != nil {
		r.err = err
		return r
	}
	if resp.StatusCode != http.StatusCreated {
		r.err = fmt.Errorf("create: %s: %s", resp.Status, bytes.TrimSpace(b))
		return r
	}
	var created struct {
		Key string `json:"key"`
	}
	if err := json.Unmarshal(b, &created); err != nil || created.Key == "" {
		r.err = fmt.Errorf("create: no key in the answer: %s", b)
		return r
	}
	auth := basic(created.Key)
	t2 := time.Now()
	status, err := use(client, useURL, auth)
	t3 := time.Now()
	r.gap, r.use = t2.Sub(t1), t3.Sub(t2)
	if err != nil {
		r.err = err
		return r
	}
	switch status {
	case http.StatusOK:
		return r
	case http.StatusUnauthorized:
		r.refused = true
	default:
		r.err = fmt.Errorf("first use: status %d", status)
		return r
	}
	ctx, cancel := context.WithTimeout(context.Background(), giveUp)
	defer cancel()
	for ctx.Err() == nil {
		time.Sleep(time.Millisecond)
		if status, err := use(client, useURL, auth); err == nil && status == http.StatusOK {
			r.acceptedAfter = time.Since(t1)
			return r
		}
	}
	r.acceptedAfter = -1
	return r
}

func use(client *http.Client, base, auth string) (int, error) {
	req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/me", nil)
	req.Header.Set("Authorization", auth)
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

func basic(key string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(key))
}

// pct returns the p-th percentile of ds (p = 100: the maximum).
func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[max(0, min(len(s), i)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
