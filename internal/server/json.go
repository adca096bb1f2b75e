package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/keywarden/keywarden"
)

// encode writes v as JSON with the given status.
func encode(w http.ResponseWriter, status int, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return keywarden.Errorf(keywarden.EINTERNAL, "encode response: %v", err)
	}
	writeJSON(w, status, body)
	return nil
}

// errMediaType answers a body that is not declared as JSON.
var errMediaType = keywarden.Errorf(EMEDIATYPE, "Send the body as JSON, with Content-Type: application/json (curl --json).")

// requireJSON refuses a body whose Content-Type is not application/json
// (with, at most, charset=utf-8): a form or text body parsed as JSON would
// be accepted by accident, and a browser can send those cross-site without
// a preflight. A request with no body and no Content-Type passes, so that
// the decoder names the missing body.
func requireJSON(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" && r.ContentLength == 0 {
		return nil
	}
	if ct == "application/json" || ct == "application/json; charset=utf-8" {
		return nil // what the parse below would decide, without its map
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return errMediaType
	}
	for name, value := range params {
		if name != "charset" || !strings.EqualFold(value, "utf-8") {
			return errMediaType
		}
	}
	return nil
}

// decode reads one JSON object into v. Unknown fields are refused so that a
// misspelt field ("expires" for "exp") is an error instead of a silent default,
// and so are field names in another case ("Name", "NAME" for "name"), which
// encoding/json would take for the field: one spelling per field, so that
// Keywarden and any proxy or log reading the same body agree on what it says.
// Every failure names the field it concerns.
func decode[T any](r *http.Request) (T, error) {
	var v T
	if err := requireJSON(r); err != nil {
		return v, err
	}
	// The whole body is read first: the field names are checked on the
	// bytes the value was decoded from.
	data, err := readBody(r)
	if err != nil {
		return v, bodyReadError(err)
	}
	return decodeBytes[T](data)
}

// bodyReadError is the error of a body that could not be read.
func bodyReadError(err error) error {
	var maxByteErr *http.MaxBytesError
	if errors.As(err, &maxByteErr) {
		return keywarden.Errorf(keywarden.ETOOLARGE, "The request body is larger than %d bytes.", maxByteErr.Limit)
	}
	return bodyError("body", "unreadable", "The body could not be read.")
}

// decodeBytes is decode's work on the body's bytes.
func decodeBytes[T any](data []byte) (T, error) {
	var v T
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err := dec.Decode(&v)
	if err == nil {
		// Anything after the object is an error.
		if err = dec.Decode(&struct{}{}); err != io.EOF {
			return v, bodyError("body", "invalid_json", "The body must be a single JSON object.")
		}
		if fields := checkFieldNames(reflect.TypeFor[T](), data); len(fields) > 0 {
			return v, &keywarden.Error{Code: keywarden.EINVALID, Message: fields[0].Message, Fields: fields}
		}
		return v, nil
	}
	var (
		syntaxErr *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
	)
	switch {
	case errors.Is(err, io.EOF):
		return v, bodyError("body", "required", "A JSON body is required.")
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF):
		return v, bodyError("body", "invalid_json", "The body is not valid JSON.")
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return v, bodyError("body", "invalid_type", "The body must be a JSON object.")
		}
		return v, bodyError("body: "+typeErr.Field, "invalid_type",
			fmt.Sprintf("%s must be of type %s.", typeErr.Field, jsonTypeName(typeErr.Type.String())))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		return v, bodyError("body: "+field, "unknown_field", fmt.Sprintf("Unknown field %q.", field))
	default:
		return v, bodyError("body", "invalid_json", "The body is not valid JSON.")
	}
}

// readBody reads the whole body, in one allocation when it declares a
// small length. A large declared length is not allocated up front: a
// client could declare a megabyte and send nothing.
func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	size := 512
	if r.ContentLength > 0 && r.ContentLength < 16<<10 {
		size = int(r.ContentLength) + 1 // room to read the EOF
	}
	return readBodyInto(r, make([]byte, 0, size))
}

// readBodyInto reads the whole body, appending it to data.
func readBodyInto(r *http.Request, data []byte) ([]byte, error) {
	for {
		if len(data) == cap(data) {
			data = append(data, 0)[:len(data)]
		}
		n, err := r.Body.Read(data[len(data):cap(data)])
		data = data[:len(data)+n]
		if err == io.EOF {
			return data, nil
		} else if err != nil {
			return nil, err
		}
	}
}

func bodyError(location, typ, msg string) error {
	return &keywarden.Error{Code: keywarden.EINVALID, Message: msg,
		Fields: []keywarden.FieldError{{Location: location, Type: typ, Message: msg}}}
}

func jsonTypeName(goType string) string {
	switch {
	case goType == "string":
		return "string"
	case strings.HasPrefix(goType, "[]"):
		return "array"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "float"):
		return "number"
	case goType == "bool":
		return "boolean"
	default:
		return "object"
	}
}

// pageFrom reads offset and limit from the query string.
func pageFrom(r *http.Request) (keywarden.Page, error) {
	var v keywarden.Validation
	p := keywarden.Page{Limit: keywarden.DefaultPageLimit}
	q := r.URL.Query()
	if s := q.Get("offset"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			v.Add("query: offset", "invalid", "offset must be a non-negative integer.")
		}
		p.Offset = n
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > keywarden.MaxPageLimit {
			v.Add("query: limit", "invalid", "limit must be an integer from 1 to %d.", keywarden.MaxPageLimit)
		}
		p.Limit = n
	}
	return p, v.Err()
}
