package runtime

import (
	"crypto/rand"
	"encoding/binary"

	"github.com/iox2go/iox2go/runtime/internal/protocol"
)

// ID identifies a node or a port. It is random, never 0, and names the
// port's files, so it is unique among all processes of a domain.
type ID = protocol.ID

func newID() ID {
	var b [8]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			panic("iox2: crypto/rand failed: " + err.Error())
		}
		if id := ID(binary.LittleEndian.Uint64(b[:])); id != 0 {
			return id
		}
	}
}
