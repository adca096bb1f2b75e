package server

import (
	"slices"
	"testing"

	"github.com/keywarden/keywarden"
)

// nestedRequest has every shape checkFieldNames walks into: a nested
// struct, a pointer, a slice and a map of structs, and an embedded struct
// whose fields are promoted.
type nestedRequest struct {
	Embedded
	Name   string            `json:"name"`
	Inner  nestedInner       `json:"inner"`
	Ptr    *nestedInner      `json:"ptr"`
	Items  []nestedInner     `json:"items"`
	ByName map[string]*Inner `json:"byName"`
	Plain  int               // no tag: its JSON name is its Go name
	Hidden string            `json:"-"`
}

type Embedded struct {
	Promoted string `json:"promoted"`
}

type nestedInner struct {
	Value int `json:"value"`
}

type Inner = nestedInner

// TestDecodeRefusesFieldNamesInAnotherCase: encoding/json fills a field
// from a key that matches its name in any case; decode refuses every such
// key, naming it and the field it was taken for, at any depth, and accepts
// exactly the declared names (escaped or not).
func TestDecodeRefusesFieldNamesInAnotherCase(t *testing.T) {
	for _, tc := range []struct {
		body      string
		locations []string // nil: accepted
	}{
		{`{"name":"x","scopes":["all"],"exp":"2027-01-01T00:00:00Z"}`, nil},
		{`{"\u006eame":"x"}`, nil}, // exactly "name", escaped
		{`{"NAME":"x"}`, []string{"body: NAME"}},
		{`{"Name":"x"}`, []string{"body: Name"}},
		{`{"name":"x","NAME":"y"}`, []string{"body: NAME"}},
		{`{"nAmE":"x","Scopes":[],"EXP":""}`, []string{"body: nAmE", "body: Scopes", "body: EXP"}},
		{`{"\u017fcopes":["all"]}`, []string{"body: \u017fcopes"}}, // ſ folds to s
		{` { "name" : "}\"]{,\\" , "scopes" : [ "]" , "\"" ] , "exp" : "\\" } `, nil},
		{`{"scopes":["{\"NAME\":1}"],"Exp":"x"}`, []string{"body: Exp"}},
	} {
		_, err := decode[keywarden.CreateAPIKeyRequest](jsonRequest(tc.body))
		checkLocations(t, tc.body, err, tc.locations)
	}

	for _, tc := range []struct {
		body      string
		locations []string
	}{
		{`{"name":"x","inner":{"value":1},"ptr":{"value":2},"items":[{"value":3}],"byName":{"a":{"value":4}},"promoted":"p","Plain":5}`, nil},
		{`{"inner":null,"ptr":null,"items":null,"byName":null}`, nil},
		{`{"inner":{"Value":1}}`, []string{"body: inner.Value"}},
		{`{"inner":{"\u0056alue":1}}`, []string{"body: inner.Value"}},
		{`{"name":"}]\"","items":[ {"value":1} , {"vaLue":2} ],"inner":{"value":3}}`, []string{"body: items[1].vaLue"}},
		{`{"ptr":{"VALUE":1}}`, []string{"body: ptr.VALUE"}},
		{`{"items":[{"value":1},{"vaLue":2}]}`, []string{"body: items[1].vaLue"}},
		{`{"byName":{"a":{"Value":1}}}`, []string{"body: byName.a.Value"}},
		{`{"Promoted":"p"}`, []string{"body: Promoted"}},
		{`{"plain":5}`, []string{"body: plain"}},
		{`{"Inner":{"Value":1}}`, []string{"body: Inner"}}, // the object under a wrong key is not looked into
	} {
		_, err := decode[nestedRequest](jsonRequest(tc.body))
		checkLocations(t, tc.body, err, tc.locations)
	}
}

func checkLocations(t *testing.T, body string, err error, want []string) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Errorf("decode(%s) = %v, want it accepted", body, err)
		}
		return
	}
	if keywarden.ErrorCode(err) != keywarden.EINVALID {
		t.Errorf("decode(%s) = %v, want EINVALID at %v", body, err, want)
		return
	}
	var got []string
	for _, f := range keywarden.ErrorFields(err) {
		got = append(got, f.Location)
		if f.Type != "unknown_field" || f.Message == "" {
			t.Errorf("decode(%s): field error %+v, want type unknown_field and a message", body, f)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("decode(%s): errors at %v, want %v", body, got, want)
	}
}

// TestDecodeSuggestsTheExactName: the message names the field the key was
// taken for.
func TestDecodeSuggestsTheExactName(t *testing.T) {
	_, err := decode[keywarden.CreateAPIKeyRequest](jsonRequest(`{"NAME":"x"}`))
	want := `Unknown field "NAME": field names are case-sensitive; did you mean "name"?`
	if fields := keywarden.ErrorFields(err); len(fields) != 1 || fields[0].Message != want || keywarden.ErrorMessage(err) != want {
		t.Errorf("decode({\"NAME\":\"x\"}) = %v (%+v), want the message %q", err, fields, want)
	}
}
