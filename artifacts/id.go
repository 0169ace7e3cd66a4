package artifacts

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// ID is a sha256 digest. Its zero value is the all-zero digest, which no
// real content or key produces in practice; IsZero reports it.
type ID [32]byte

// ActionID names a unit of work: the sha256 of a Key's text.
type ActionID ID

// OutputID names a sequence of bytes: the sha256 of an object's content.
type OutputID ID

// String returns the 64 lowercase hexadecimal digits of id.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// Short returns the first 12 hexadecimal digits of id, for humans.
func (id ID) Short() string { return id.String()[:12] }

// IsZero reports whether id is the all-zero value.
func (id ID) IsZero() bool { return id == ID{} }

// MarshalText encodes id as String does.
func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText decodes 64 hexadecimal digits into id.
func (id *ID) UnmarshalText(b []byte) error {
	v, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// ParseID decodes the 64 lowercase hexadecimal digits that String returns.
// Upper-case digits are rejected so that every ID has a single spelling.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 2*len(id) {
		return ID{}, fmt.Errorf("artifacts: parse id %q: want %d hex digits, have %d", s, 2*len(id), len(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return ID{}, fmt.Errorf("artifacts: parse id %q: invalid character %q at %d (want lowercase hex)", s, c, i)
		}
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return ID{}, fmt.Errorf("artifacts: parse id %q: %w", s, err)
	}
	return id, nil
}

// HashBytes returns the sha256 of b as an ID.
func HashBytes(b []byte) ID { return ID(sha256.Sum256(b)) }

// String returns the 64 lowercase hexadecimal digits of id.
func (id ActionID) String() string { return ID(id).String() }

// Short returns the first 12 hexadecimal digits of id.
func (id ActionID) Short() string { return ID(id).Short() }

// IsZero reports whether id is the all-zero value.
func (id ActionID) IsZero() bool { return ID(id).IsZero() }

// MarshalText encodes id as String does.
func (id ActionID) MarshalText() ([]byte, error) { return ID(id).MarshalText() }

// UnmarshalText decodes 64 lowercase hexadecimal digits into id.
func (id *ActionID) UnmarshalText(b []byte) error { return (*ID)(id).UnmarshalText(b) }

// ParseActionID decodes the 64 lowercase hexadecimal digits of an ActionID.
func ParseActionID(s string) (ActionID, error) {
	id, err := ParseID(s)
	return ActionID(id), err
}

// String returns the 64 lowercase hexadecimal digits of id.
func (id OutputID) String() string { return ID(id).String() }

// Short returns the first 12 hexadecimal digits of id.
func (id OutputID) Short() string { return ID(id).Short() }

// IsZero reports whether id is the all-zero value.
func (id OutputID) IsZero() bool { return ID(id).IsZero() }

// MarshalText encodes id as String does.
func (id OutputID) MarshalText() ([]byte, error) { return ID(id).MarshalText() }

// UnmarshalText decodes 64 lowercase hexadecimal digits into id.
func (id *OutputID) UnmarshalText(b []byte) error { return (*ID)(id).UnmarshalText(b) }

// ParseOutputID decodes the 64 lowercase hexadecimal digits of an OutputID.
func ParseOutputID(s string) (OutputID, error) {
	id, err := ParseID(s)
	return OutputID(id), err
}
