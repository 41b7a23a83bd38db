package protocol

// Version is the protocol version. It is the low half of every segment's
// ready word (see shm.Publish) and, in decimal, the "version" field of every
// static config: a process refuses a service or segment of another version
// (ErrVersionMismatch, naming both). Any change to the bytes, the file
// names or the atomic protocol that another participant relies on bumps it.
//
// History (the segment layout version before 7):
//
//	4: a queue of capacity 1 is an exchanged slot (ring "ixQ" v2);
//	5: a dead sender's port slot may be draining (SlotDraining);
//	6: node slots and receiving ports' slots have a wake word, the event
//	   segment's futex words are one wake word (the doorbells);
//	7: the static config's "version" field carries the protocol version
//	   (it held the runtime's software version); no byte of any segment
//	   changed from 6.
const Version uint32 = 7

// Segment kinds: the kind word of a segment's shm.Header.
const (
	KindDynamic    uint32 = 1 // a service's dynamic config
	KindData       uint32 = 2 // a sender's data segment
	KindConnection uint32 = 3 // a connection from a sender to a receiver
	KindEvent      uint32 = 4 // a listener's event segment
)
