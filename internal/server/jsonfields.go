package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/keywarden/keywarden"
)

// Exact field names. encoding/json fills a struct field from an object key
// that matches the field's name in any case (Unicode folding included:
// "ſcopes" is "scopes" to it), and has no option to stop. decode therefore
// checks, after a successful decode, that every key of every object that
// went into a struct is exactly the JSON name of one of its fields. The
// check reads the bytes that were decoded, which are known to be valid
// JSON of the type's shape, so it needs no second full parse.

// checkFieldNames returns an unknown_field error for every object key in
// data, a valid JSON value that decoded into a t, that is not exactly the
// JSON name of a field of the struct it went into — at any depth: structs
// in structs, slices, arrays, maps and pointers. Errors come in document
// order.
func checkFieldNames(t reflect.Type, data []byte) []keywarden.FieldError {
	var fields []keywarden.FieldError
	walkFieldNames(t, data, "", &fields)
	return fields
}

// walkFieldNames checks the value data of type t, whose location in the
// body is path (empty at the top).
func walkFieldNames(t reflect.Type, data []byte, path string, fields *[]keywarden.FieldError) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if w, ok := reflect.Zero(t).Interface().(wrapper); ok {
		// A wrapper decodes itself, but what it holds has field names
		// like any struct (keywarden.Nullable).
		if !bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
			walkFieldNames(w.WrappedType(), data, path, fields)
		}
		return
	}
	if decodesItself(t) {
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		table := fieldTableOf(t)
		eachMember(data, func(rawKey, value []byte) {
			i := table.index(rawKey)
			if i >= 0 {
				if table.types[i] != nil {
					walkFieldNames(table.types[i], value, path+table.names[i]+".", fields)
				}
				return
			}
			key := unquote(rawKey)
			msg := fmt.Sprintf("Unknown field %q.", path+key)
			if s := table.suggest(key); s != "" {
				msg = fmt.Sprintf("Unknown field %q: field names are case-sensitive; did you mean %q?", path+key, path+s)
			}
			*fields = append(*fields, keywarden.FieldError{Location: "body: " + path + key, Type: "unknown_field", Message: msg})
		})
	case reflect.Slice, reflect.Array:
		if !hasObjects(t.Elem()) {
			return
		}
		prefix := strings.TrimSuffix(path, ".")
		i := 0
		eachElement(data, func(value []byte) {
			walkFieldNames(t.Elem(), value, prefix+"["+strconv.Itoa(i)+"].", fields)
			i++
		})
	case reflect.Map:
		if !hasObjects(t.Elem()) {
			return
		}
		eachMember(data, func(rawKey, value []byte) {
			walkFieldNames(t.Elem(), value, path+unquote(rawKey)+".", fields)
		})
	}
}

// fieldTable is what walkFieldNames needs of a struct type: the JSON name
// of each field, and the type of those whose values may hold objects.
type fieldTable struct {
	names []string
	types []reflect.Type // nil where there is nothing inside to check
}

// index returns the field whose name is exactly rawKey (still escaped, as
// it is in the body), or -1.
func (ft *fieldTable) index(rawKey []byte) int {
	if bytes.IndexByte(rawKey, '\\') >= 0 {
		key := unquote(rawKey)
		for i, name := range ft.names {
			if name == key {
				return i
			}
		}
		return -1
	}
	for i, name := range ft.names {
		if string(rawKey) == name {
			return i
		}
	}
	return -1
}

// suggest returns the field name that key spells in another case, if any.
func (ft *fieldTable) suggest(key string) string {
	for _, name := range ft.names {
		if strings.EqualFold(name, key) {
			return name
		}
	}
	return ""
}

// fieldTables memoizes fieldTableOf, as encoding/json memoizes its own
// field lists: a table is a pure function of its type, so the memo is no
// state that anything could observe, and decode runs on every API request.
var fieldTables sync.Map // reflect.Type → *fieldTable

func fieldTableOf(t reflect.Type) *fieldTable {
	if ft, ok := fieldTables.Load(t); ok {
		return ft.(*fieldTable)
	}
	ft := &fieldTable{}
	addFields(ft, t, map[reflect.Type]bool{})
	actual, _ := fieldTables.LoadOrStore(t, ft)
	return actual.(*fieldTable)
}

// addFields adds the fields of struct t as encoding/json names them: the
// json tag's name, else the Go name; unexported fields and "-" have none;
// the fields of an embedded struct without a tag name are promoted, after
// t's own, and a name already taken stays with its first (shallowest)
// field. encoding/json drops names that two fields at one depth claim; if
// this table keeps one, the key is refused as unknown by the decoder before
// the table is consulted.
func addFields(ft *fieldTable, t reflect.Type, seen map[reflect.Type]bool) {
	seen[t] = true
	var embedded []reflect.Type
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			et := f.Type
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct {
				embedded = append(embedded, et)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if !slices.Contains(ft.names, name) {
			var inner reflect.Type
			if hasObjects(f.Type) {
				inner = f.Type
			}
			ft.names = append(ft.names, name)
			ft.types = append(ft.types, inner)
		}
	}
	for _, et := range embedded {
		if !seen[et] {
			addFields(ft, et, seen)
		}
	}
}

// hasObjects reports whether a value of t may hold a struct decoded from a
// JSON object, whose keys need checking. A struct answers true without
// looking inside, so recursive types end.
func hasObjects(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if w, ok := reflect.Zero(t).Interface().(wrapper); ok {
		return hasObjects(w.WrappedType())
	}
	if decodesItself(t) {
		return false
	}
	switch t.Kind() {
	case reflect.Struct:
		return true
	case reflect.Slice, reflect.Array, reflect.Map:
		return hasObjects(t.Elem())
	}
	return false
}

// wrapper is a type that decodes itself but holds a value of
// WrappedType, whose field names are checked as if it were there itself.
type wrapper interface{ WrappedType() reflect.Type }

// decodesItself reports whether t has its own UnmarshalJSON, whose keys,
// if any, are its own business.
func decodesItself(t reflect.Type) bool {
	u := reflect.TypeFor[json.Unmarshaler]()
	return t.Implements(u) || reflect.PointerTo(t).Implements(u)
}

// unquote decodes the JSON escapes of a key (the bytes between its quotes).
func unquote(rawKey []byte) string {
	if bytes.IndexByte(rawKey, '\\') < 0 {
		return string(rawKey)
	}
	var s string
	if json.Unmarshal(append(append([]byte{'"'}, rawKey...), '"'), &s) != nil {
		return string(rawKey)
	}
	return s
}

// The scanner below walks JSON that encoding/json has already accepted, so
// it only finds where things end; on anything unexpected it stops rather
// than reads past the data.

// eachMember calls fn with the raw key (between its quotes) and the raw
// value of each member of the object data, in order. It calls nothing for
// anything but an object (null).
func eachMember(data []byte, fn func(rawKey, value []byte)) {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return
	}
	i = skipSpace(data, i+1)
	for i < len(data) && data[i] == '"' {
		end := skipString(data, i)
		if end > len(data) || end < i+2 {
			return
		}
		key := data[i+1 : end-1]
		i = skipSpace(data, end)
		if i >= len(data) || data[i] != ':' {
			return
		}
		start := skipSpace(data, i+1)
		stop := skipValue(data, start)
		fn(key, data[start:stop])
		i = skipSpace(data, stop)
		if i >= len(data) || data[i] != ',' {
			return
		}
		i = skipSpace(data, i+1)
	}
}

// eachElement calls fn with each element of the array data, in order.
func eachElement(data []byte, fn func(value []byte)) {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '[' {
		return
	}
	i = skipSpace(data, i+1)
	for i < len(data) && data[i] != ']' {
		stop := skipValue(data, i)
		fn(data[i:stop])
		i = skipSpace(data, stop)
		if i >= len(data) || data[i] != ',' {
			return
		}
		i = skipSpace(data, i+1)
	}
}

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index just past the string starting at data[i].
func skipString(data []byte, i int) int {
	for i++; i < len(data); i++ {
		switch data[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(data)
}

// skipValue returns the index just past the value starting at data[i].
func skipValue(data []byte, i int) int {
	if i >= len(data) {
		return len(data)
	}
	switch data[i] {
	case '"':
		return skipString(data, i)
	case '{', '[':
		depth := 0
		for i < len(data) {
			switch data[i] {
			case '"':
				i = skipString(data, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return len(data)
	}
	for i < len(data) {
		switch data[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}
