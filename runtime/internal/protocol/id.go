package protocol

import "fmt"

// ID identifies a node or a port. It is random, never 0, and names the
// port's files, so it is unique among all processes of a domain.
type ID uint64

// String is the ID as it appears in names: 16 lowercase hex digits.
func (id ID) String() string { return fmt.Sprintf("%016x", uint64(id)) }
