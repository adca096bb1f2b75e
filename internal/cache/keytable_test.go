package cache

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/keywarden/keywarden"
)

// TestKeyTableAgreesWithAMap: random inserts, updates and removals, checked
// after every step against a map of what should be there, with a table
// small enough that runs of full slots form, wrap around the end and are
// cut by removals.
func TestKeyTableAgreesWithAMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	tab := newKeyTable()
	want := map[string]keywarden.SecretHash{}
	rows := map[string]uint32{}
	var users []string
	newUser := func() string {
		b := make([]byte, randomLen)
		for i := range b {
			b[i] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"[rng.IntN(62)]
		}
		return []string{"kwo_", "kwp_", "acme_live_"}[rng.IntN(3)] + string(b)
	}
	check := func(step int) {
		t.Helper()
		if tab.count != len(want) {
			t.Fatalf("step %d: count %d, want %d", step, tab.count, len(want))
		}
		for _, u := range users {
			id, ok := tab.pack([]byte(u))
			if !ok {
				t.Fatalf("step %d: %s does not pack", step, u)
			}
			r, found := tab.find(id)
			h, exists := want[u]
			if found != exists || found && (r != rows[u] || tab.at(r).hash != h) {
				t.Fatalf("step %d: find(%s) = %d, %v; want %d, %v", step, u, r, found, rows[u], exists)
			}
		}
	}
	for step := 0; step < 20000; step++ {
		switch op := rng.IntN(10); {
		case op < 5 || len(users) == 0:
			u := newUser()
			id, ok := tab.packAdding(u)
			if !ok {
				t.Fatalf("%s does not pack", u)
			}
			h := keywarden.HashSecret(fmt.Sprint(step))
			r, ok := tab.insert(id, h, group{org: fmt.Sprint(step % 7)})
			if !ok {
				t.Fatal("table full")
			}
			users = append(users, u)
			want[u], rows[u] = h, r
		case op < 7:
			u := users[rng.IntN(len(users))]
			if _, ok := want[u]; ok {
				h := keywarden.HashSecret(fmt.Sprint("updated", step))
				tab.update(rows[u], h, group{org: "other"})
				want[u] = h
			}
		default:
			u := users[rng.IntN(len(users))]
			if _, ok := want[u]; ok {
				tab.remove(rows[u])
				delete(want, u)
			}
		}
		if step%97 == 0 || step > 19900 {
			check(step)
		}
	}
	check(-1)
	for g, i := range tab.groupIndex {
		if tab.groups[i] != g || tab.groupRefs[i] == 0 {
			t.Fatalf("group %v at %d with %d rows", g, i, tab.groupRefs[i])
		}
	}
}

// TestPackedIDsAreDistinct: two key IDs pack alike only when they are the
// same ID; the zero ID is nobody's; what is no key ID does not pack.
func TestPackedIDsAreDistinct(t *testing.T) {
	tab := newKeyTable()
	seen := map[packedID]string{}
	for _, u := range []string{
		"kwo_00000000000000000000", "kwo_00000000000000000001", "kwo_10000000000000000000",
		"kwo_zzzzzzzzzzzzzzzzzzzz", "kwo_zzzzzzzzzzzzzzzzzzzy", "kwp_zzzzzzzzzzzzzzzzzzzz",
		"kwo_Zzzzzzzzzzzzzzzzzzzz", "kwo_a0000000000000000000", "kw_oa0000000000000000000",
	} {
		id, ok := tab.packAdding(u)
		if !ok || id == (packedID{}) {
			t.Fatalf("%s: %v %v", u, id, ok)
		}
		if other, dup := seen[id]; dup {
			t.Fatalf("%s and %s pack alike", u, other)
		}
		seen[id] = u
	}
	for _, u := range []string{"", "kwo_", "kwo_0000000000000000000", "kwo_000000000000000000-0", "00000000000000000000", "kwo_00000000000000000000\x00"} {
		if id, ok := tab.pack([]byte(u)); ok {
			t.Errorf("%q packs to %x", u, id)
		}
	}
	if _, ok := tab.pack([]byte("new_00000000000000000000")); ok {
		t.Error("an ID of a prefix the table does not know packs")
	}
}

// TestPackingIsTheBase62Number: the packed ID is the random part read as
// a base62 number, checked against math/big for random and extreme IDs.
func TestPackingIsTheBase62Number(t *testing.T) {
	const digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	rng := rand.New(rand.NewPCG(3, 4))
	cases := []string{"00000000000000000000", "zzzzzzzzzzzzzzzzzzzz", "z0000000000000000000", "0000000000z000000000"}
	for range 1000 {
		b := make([]byte, randomLen)
		for i := range b {
			b[i] = digits[rng.IntN(62)]
		}
		cases = append(cases, string(b))
	}
	for _, c := range cases {
		id, ok := packRandom(9, []byte(c))
		if !ok {
			t.Fatalf("%s does not pack", c)
		}
		n := new(big.Int)
		for i := 0; i < len(c); i++ {
			n.Mul(n, big.NewInt(62))
			n.Add(n, big.NewInt(int64(strings.IndexByte(digits, c[i]))))
		}
		var want packedID
		n.FillBytes(want[1:])
		want[0] = 9
		if id != want {
			t.Fatalf("%s packs to %x, want %x", c, id, want)
		}
	}
}
