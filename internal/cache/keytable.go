package cache

import (
	"encoding/binary"
	"hash/maphash"
	"math/bits"
	"sync/atomic"

	"github.com/keywarden/keywarden"
)

// keyTable is what the cache keeps about every key: enough to refuse an
// unknown key ID, to refuse a wrong secret and to recognize a right one,
// and nothing more. A row is the key ID packed into 16 bytes, the SHA-256
// of the secret and an index into the table of organizations and
// processes, shared by the keys of one process: 52 bytes with no pointer
// in them, so that the collector never scans the table, in chunks that
// growing never copies. An open-addressing index of 4 bytes a slot, kept
// between 60% and 80% full, finds a row by ID. The rest of a key (its
// internal ID, name, scopes, allowlist, rate limit) is read from the store
// on its first successful use, which only a holder of the secret can cause.
//
// The index hashes IDs with a random seed: whoever makes up key IDs cannot
// aim them at one run of full slots. A slot keeps 7 bits of its ID's hash,
// so that a lookup compares a row only when those bits match: a hit reads
// about one row, a miss about none.
//
// Not safe for concurrent use: Store's lock guards it, except the used
// bits, which lookups set under the read lock.
type keyTable struct {
	seed   maphash.Seed
	chunks [][]row
	nrows  int      // rows allocated in chunks
	free   []uint32 // rows freed by deletions, reused first
	used   []uint64 // a bit a row: looked up since the CLOCK hand last passed (atomic)
	slots  []uint32 // tag<<rowBits | row+1, 0 when empty; linear probing
	count  int      // rows in use

	prefixes []string // key ID prefixes: a packed ID's first byte is one's index + 1

	groups     []group // where keys reach; a row's group is an index into it
	groupRefs  []uint32
	groupIndex map[group]uint32
	freeGroups []uint32
}

// row is one key in the table. A free row has a zero ID.
type row struct {
	id    packedID
	hash  keywarden.SecretHash
	group uint32
}

// group is the organization and process (empty for an organization key)
// of some keys.
type group struct{ org, process string }

// packedID is a key ID in 16 bytes: the index of its prefix plus one, then
// its 20 base62 characters as a 120-bit big-endian number (62^20 < 2^120).
// The zero value is no key's.
type packedID [16]byte

const (
	rowBits = 25
	rowMask = 1<<rowBits - 1
	// maxRows bounds the table: a slot holds row+1 in rowBits bits.
	maxRows  = rowMask - 1
	tagMask  = 1<<(32-rowBits) - 1
	rowChunk = 1024
	// maxPrefixes is how many distinct key ID prefixes a packed ID can
	// name; a key with another one is not held (the cache is then
	// incomplete, and misses ask the store).
	maxPrefixes = 255
	// noRow is what find returns on a miss: no row has it.
	noRow = ^uint32(0)
)

func newKeyTable() keyTable {
	return keyTable{seed: maphash.MakeSeed(), groupIndex: make(map[group]uint32)}
}

func (t *keyTable) at(r uint32) *row { return &t.chunks[r/rowChunk][r%rowChunk] }

// pack returns the packed form of user, false when user is not a key ID
// of a prefix the table knows.
func (t *keyTable) pack(user []byte) (packedID, bool) {
	if len(user) <= randomLen {
		return packedID{}, false
	}
	prefix := user[:len(user)-randomLen]
	for i, p := range t.prefixes {
		if p == string(prefix) {
			return packRandom(byte(i+1), user[len(prefix):])
		}
	}
	return packedID{}, false
}

// packAdding is pack, learning user's prefix if it is new. It fails for
// a user that is no key ID, and for a new prefix past maxPrefixes.
func (t *keyTable) packAdding(user string) (packedID, bool) {
	if id, ok := t.pack([]byte(user)); ok {
		return id, true
	}
	if len(user) <= randomLen || len(t.prefixes) >= maxPrefixes {
		return packedID{}, false
	}
	prefix := user[:len(user)-randomLen]
	for _, p := range t.prefixes {
		if p == prefix {
			return packedID{}, false // a known prefix: the rest is no key ID's
		}
	}
	if _, ok := packRandom(1, []byte(user[len(prefix):])); !ok {
		return packedID{}, false
	}
	t.prefixes = append(t.prefixes, prefix)
	return t.pack([]byte(user))
}

// randomLen is the length of a key ID's random part.
const randomLen = 20

// packRandom packs the randomLen base62 characters of s after the prefix
// index p.
// It takes the same steps whatever the characters: a branch on each one
// would make a made-up ID, whose characters the branch predictor has not
// seen, slower to look up than a real ID presented again and again
// (docs/security.md, "No existence oracle").
func packRandom(p byte, s []byte) (packedID, bool) {
	// Two halves of ten characters, each below 62^10 < 2^60, computed
	// side by side, then joined: hi:lo = a × 62^10 + b.
	var a, b uint64
	var bad byte
	for i := range randomLen / 2 {
		da, db := base62Value[s[i]], base62Value[s[randomLen/2+i]]
		bad |= da | db
		a = a*62 + uint64(da)
		b = b*62 + uint64(db)
	}
	if bad&0x80 != 0 {
		return packedID{}, false
	}
	hi, lo := bits.Mul64(a, pow62of10)
	lo, carry := bits.Add64(lo, b, 0)
	hi += carry
	var id packedID
	binary.BigEndian.PutUint64(id[8:], lo)
	binary.BigEndian.PutUint64(id[:8], hi) // its top byte is 0: hi < 2^56
	id[0] = p
	return id, true
}

const pow62of10 = 839299365868340224 // 62^10

// base62Value maps a byte to its base62 digit, and every other byte to 0xff.
var base62Value = func() (v [256]byte) {
	for i := range v {
		v[i] = 0xff
	}
	for i := 0; i < 62; i++ {
		v["0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"[i]] = byte(i)
	}
	return v
}()

// hash returns the slot an ID's search starts at and its tag.
func (t *keyTable) hash(id *packedID) (int, uint32) {
	h := maphash.Bytes(t.seed, id[:])
	home, _ := bits.Mul64(h, uint64(len(t.slots)))
	return int(home), uint32(h) & tagMask
}

// find returns the row of id, or noRow and false.
func (t *keyTable) find(id packedID) (uint32, bool) {
	if len(t.slots) == 0 || id[0] == 0 {
		return noRow, false
	}
	i, tag := t.hash(&id)
	for {
		s := t.slots[i]
		if s == 0 {
			return noRow, false
		}
		if s>>rowBits == tag {
			if r := s&rowMask - 1; t.at(r).id == id {
				return r, true
			}
		}
		if i++; i == len(t.slots) {
			i = 0
		}
	}
}

// slotOf returns the index slot holding row r, which is in use.
func (t *keyTable) slotOf(r uint32) int {
	i, _ := t.hash(&t.at(r).id)
	for t.slots[i]&rowMask != r+1 {
		if i++; i == len(t.slots) {
			i = 0
		}
	}
	return i
}

// insert adds id, which is not in the table, and returns its row, or
// false when the table holds maxRows rows.
func (t *keyTable) insert(id packedID, hash keywarden.SecretHash, g group) (uint32, bool) {
	if t.count >= maxRows {
		return 0, false
	}
	if (t.count+1)*5 > len(t.slots)*4 {
		t.grow()
	}
	var r uint32
	if n := len(t.free); n > 0 {
		r, t.free = t.free[n-1], t.free[:n-1]
	} else {
		if t.nrows%rowChunk == 0 {
			t.chunks = append(t.chunks, make([]row, rowChunk))
		}
		r = uint32(t.nrows)
		t.nrows++
		if int(r)/64 >= len(t.used) {
			t.used = append(t.used, 0)
		}
	}
	*t.at(r) = row{id: id, hash: hash, group: t.groupOf(g)}
	t.place(r)
	t.count++
	return r, true
}

// place puts row r in the index.
func (t *keyTable) place(r uint32) {
	i, tag := t.hash(&t.at(r).id)
	for t.slots[i] != 0 {
		if i++; i == len(t.slots) {
			i = 0
		}
	}
	t.slots[i] = tag<<rowBits | (r + 1)
}

// grow rebuilds the index 60% full.
func (t *keyTable) grow() {
	old := t.slots
	t.slots = make([]uint32, (t.count+1)*5/3+16)
	for _, s := range old {
		if s != 0 {
			t.place(s&rowMask - 1)
		}
	}
}

// update replaces the secret hash and group of row r.
func (t *keyTable) update(r uint32, hash keywarden.SecretHash, g group) {
	e := t.at(r)
	old := e.group
	e.hash, e.group = hash, t.groupOf(g)
	t.release(old)
}

// remove frees row r, which is in use.
func (t *keyTable) remove(r uint32) {
	t.unslot(t.slotOf(r))
	e := t.at(r)
	t.release(e.group)
	*e = row{}
	t.takeUsed(r)
	t.free = append(t.free, r)
	t.count--
}

// unslot empties slot i. The slots after it move back into the gap when
// their search would otherwise pass it: deletion without tombstones, so
// that misses do not slow down as keys come and go.
func (t *keyTable) unslot(i int) {
	n := len(t.slots)
	t.slots[i] = 0
	for j := i; ; {
		if j++; j == n {
			j = 0
		}
		s := t.slots[j]
		if s == 0 {
			return
		}
		// s may fill the gap at i unless its search starts in (i, j].
		h, _ := t.hash(&t.at(s&rowMask - 1).id)
		if j > i && (h <= i || h > j) || j < i && h <= i && h > j {
			t.slots[i], t.slots[j] = s, 0
			i = j
		}
	}
}

// groupOf returns the index of g, counting one more row in it.
func (t *keyTable) groupOf(g group) uint32 {
	i, ok := t.groupIndex[g]
	if !ok {
		if n := len(t.freeGroups); n > 0 {
			i, t.freeGroups = t.freeGroups[n-1], t.freeGroups[:n-1]
			t.groups[i] = g
		} else {
			i = uint32(len(t.groups))
			t.groups = append(t.groups, g)
			t.groupRefs = append(t.groupRefs, 0)
		}
		t.groupIndex[g] = i
	}
	t.groupRefs[i]++
	return i
}

// release counts one row fewer in group i, forgetting it with its last.
func (t *keyTable) release(i uint32) {
	if t.groupRefs[i]--; t.groupRefs[i] == 0 {
		delete(t.groupIndex, t.groups[i])
		t.groups[i] = group{}
		t.freeGroups = append(t.freeGroups, i)
	}
}

func (t *keyTable) inUse(r uint32) bool { return t.at(r).id[0] != 0 }

// markUsed sets row r's used bit; safe under the read lock.
func (t *keyTable) markUsed(r uint32) {
	w, bit := &t.used[r/64], uint64(1)<<(r%64)
	if atomic.LoadUint64(w)&bit == 0 {
		atomic.OrUint64(w, bit)
	}
}

// takeUsed clears row r's used bit and reports whether it was set.
func (t *keyTable) takeUsed(r uint32) bool {
	bit := uint64(1) << (r % 64)
	return atomic.AndUint64(&t.used[r/64], ^bit)&bit != 0
}
