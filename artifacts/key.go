package artifacts

import (
	"crypto/sha256"
	"strconv"
	"strings"
)

// KeySchemaVersion is the version of the way the engine describes actions.
// The engine adds it to every Key; bumping it invalidates every cache entry.
const KeySchemaVersion = 1

// Key is a salted, labelled, canonical description of a unit of work, in the
// manner of cmd/go's action IDs. It is a sequence of lines
//
//	salt <salt>
//	<label> <value>
//	...
//
// each ending in '\n', hashed in the order they were added. Text returns
// exactly the bytes that Sum hashes, so two keys can be diffed line by line
// (`pipeline explain`). The zero Key is not usable; call NewKey.
//
// Labels are non-empty and contain no space, tab, '\r' or '\n'. Values may
// contain anything but '\n' and '\r'; use AddQuoted for arbitrary strings
// (it applies strconv.Quote). Misuse panics: it is a programming error, and
// silently escaping would make two different descriptions collide.
type Key struct {
	b strings.Builder
}

// NewKey returns a Key whose first line is "salt <salt>". The salt
// separates unrelated uses of the store; it follows the rules of values.
func NewKey(salt string) *Key {
	k := &Key{}
	checkValue("salt", salt)
	k.b.WriteString("salt ")
	k.b.WriteString(salt)
	k.b.WriteByte('\n')
	return k
}

// Add appends the line "<label> <value>\n". It panics if label is empty or
// contains white space, or if value contains '\n' or '\r'.
func (k *Key) Add(label, value string) {
	if k == nil || k.b.Len() == 0 {
		panic("artifacts: Key used without NewKey")
	}
	if label == "" || strings.ContainsAny(label, " \t\r\n") {
		panic("artifacts: Key label " + strconv.Quote(label) + " is empty or contains white space")
	}
	checkValue(label, value)
	k.b.WriteString(label)
	k.b.WriteByte(' ')
	k.b.WriteString(value)
	k.b.WriteByte('\n')
}

// AddQuoted appends the line "<label> <strconv.Quote(value)>\n", which is
// valid for any value.
func (k *Key) AddQuoted(label, value string) { k.Add(label, strconv.Quote(value)) }

// AddID appends the line "<label> <hex of id>".
func (k *Key) AddID(label string, id ID) { k.Add(label, id.String()) }

// Sum returns the sha256 of Text(). More lines may be added afterwards.
func (k *Key) Sum() ActionID {
	return ActionID(sha256.Sum256([]byte(k.b.String())))
}

// Text returns exactly the bytes that Sum hashes.
func (k *Key) Text() string { return k.b.String() }

func checkValue(label, value string) {
	if strings.ContainsAny(value, "\r\n") {
		panic("artifacts: Key value for " + strconv.Quote(label) + " contains a newline; use AddQuoted")
	}
}
