package server

import (
	"bytes"
	"net/http"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/api"
)

// maxFastScopes bounds the scopes a verify request read by
// parseVerifyRequest may name; more go the general way.
const maxFastScopes = 16

// fastVerify is a verify request as parseVerifyRequest reads it: where
// in the body each value is (offsets, so that nothing of it escapes).
type fastVerify struct {
	key, processID span
	scopes         [maxFastScopes]span
	n              int
}

type span struct{ start, end int }

// readVerifyRequest reads a verify request as decode and verifyRequirement
// do, with the same answer for every body. The bodies services send — one
// object with "key", "scopes" and "processId", plain strings without
// escapes, every scope in the catalogue — are read into a pooled buffer
// without encoding/json (parseVerifyRequest); any other goes to decode's
// general path, which names what is wrong with it.
//
// The key it returns may lie in buf, a pooled buffer the caller puts back
// (putSecretBuffer) once the key is no longer used: the key check keeps nothing
// of what it is given (keywarden.Verifier), and the key is not copied.
// buf is nil when there is nothing to put back.
func (s *server) readVerifyRequest(r *http.Request) (key string, req keywarden.Requirement, buf *[]byte, err error) {
	if err := requireJSON(r); err != nil {
		return "", req, nil, err
	}
	bp := buffers.Get().(*[]byte)
	var data []byte
	if r.Body != nil { // as readBody reads it
		data, err = readBodyInto(r, (*bp)[:0])
		if data != nil {
			*bp = data
		}
		if err != nil {
			putSecretBuffer(bp)
			return "", req, nil, bodyReadError(err)
		}
	}
	var f fastVerify
	if parseVerifyRequest(data, &f) && f.key.end > f.key.start {
		ok := true
		for _, sp := range f.scopes[:f.n] {
			i, known := s.Catalogue.Index(keywarden.Scope(unsafeString(data[sp.start:sp.end])))
			if !known {
				ok = false
				break
			}
			req.Scopes.Add(i)
		}
		if ok {
			// The process ID is a Requirement's string, which its users
			// may keep (the cache remembers owners): a real string, from
			// a memo of recent ones.
			req.ProcessID = s.processIDs.text(data[f.processID.start:f.processID.end])
			return unsafeString(data[f.key.start:f.key.end]), req, bp, nil
		}
		req = keywarden.Requirement{}
	}
	body, err := decodeBytes[api.VerifyRequest](bytes.Clone(data))
	putSecretBuffer(bp)
	if err != nil {
		return "", req, nil, err
	}
	req, err = s.verifyRequirement(body)
	return body.Key, req, nil, err
}

// parseVerifyRequest reads data into f if it is the common shape of a
// verify request: a JSON object whose names are key, scopes and processId
// (each at most once, spelt exactly), whose values are strings (scopes an
// array of at most maxFastScopes of them) of printable ASCII without
// escapes, with JSON whitespace anywhere between tokens. encoding/json
// reads such a body into exactly these values. For anything else it
// reports false, and f is to be ignored.
func parseVerifyRequest(data []byte, f *fastVerify) bool {
	p := fastJSON{data: data}
	if !p.consume('{') {
		return false
	}
	var seenKey, seenScopes, seenProcess bool
	if !p.consume('}') {
		for {
			name, ok := p.str()
			if !ok || !p.consume(':') {
				return false
			}
			switch string(data[name.start:name.end]) {
			case "key":
				if f.key, ok = p.str(); !ok || seenKey {
					return false
				}
				seenKey = true
			case "processId":
				if f.processID, ok = p.str(); !ok || seenProcess {
					return false
				}
				seenProcess = true
			case "scopes":
				if seenScopes || !p.consume('[') {
					return false
				}
				seenScopes = true
				if !p.consume(']') {
					for {
						sp, ok := p.str()
						if !ok || f.n == maxFastScopes {
							return false
						}
						f.scopes[f.n] = sp
						f.n++
						if p.consume(']') {
							break
						}
						if !p.consume(',') {
							return false
						}
					}
				}
			default:
				return false
			}
			if p.consume('}') {
				break
			}
			if !p.consume(',') {
				return false
			}
		}
	}
	p.space()
	return p.i == len(p.data)
}

// fastJSON reads the tokens parseVerifyRequest accepts.
type fastJSON struct {
	data []byte
	i    int
}

func (p *fastJSON) space() {
	for p.i < len(p.data) {
		switch p.data[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// consume skips whitespace and then c, if it is next.
func (p *fastJSON) consume(c byte) bool {
	p.space()
	if p.i < len(p.data) && p.data[p.i] == c {
		p.i++
		return true
	}
	return false
}

// str reads a string of printable ASCII without escapes, and returns
// where its contents are.
func (p *fastJSON) str() (span, bool) {
	if !p.consume('"') {
		return span{}, false
	}
	start := p.i
	for ; p.i < len(p.data); p.i++ {
		switch c := p.data[p.i]; {
		case c == '"':
			end := p.i
			p.i++
			return span{start, end}, true
		case c < 0x20 || c > 0x7e || c == '\\':
			return span{}, false
		}
	}
	return span{}, false
}
