package gateway

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	iox2 "github.com/iox2go/iox2go/runtime"
)

// The subjects, all under iox2go.<namespace>. (see docs/GATEWAY.md).
func (g *Gateway) subj(rest string) string { return "iox2go." + g.cfg.Namespace + "." + rest }

// announcement is the JSON of gw.<id>.announce: a gateway's catalog.
type announcement struct {
	Gateway   string `json:"gateway"`
	Host      string `json:"host"`
	ByteOrder string `json:"byte_order"` // "little" or "big"
	Protocol  uint32 `json:"protocol"`   // iox2.ProtocolVersion
	// Wire is the version of the gateways' message format (wireVersion);
	// gateways before version 2 sent none.
	Wire uint32 `json:"wire"`
	// HeartbeatNS is the sender's heartbeat interval: it is forgotten
	// after 3 of them without an announcement.
	HeartbeatNS int64               `json:"heartbeat_ns"`
	Services    []iox2.StaticConfig `json:"services"`
	// Servers lists the hashes of the request-response services that have
	// a server on this host: the others send their clients' requests
	// only to the gateways that list the service here.
	Servers []string `json:"servers,omitempty"`
}

func (a *announcement) heartbeat() time.Duration { return time.Duration(a.HeartbeatNS) }

// nativeByteOrder is this machine's byte order.
func nativeByteOrder() string {
	var b [2]byte
	binary.NativeEndian.PutUint16(b[:], 1)
	if b[0] == 1 {
		return "little"
	}
	return "big"
}

// A sample on ps.<hash> is a record: a fixed header, the user header, the
// payload bytes. The header is little-endian whatever the host: magic
// "IOX2", version 2, flags (flagEnd), 2 reserved bytes, origin gateway
// (u64), publisher (u64), sequence (u64), user header length in bytes
// (u32), the record's number (u32), payload length in elements (u64). A
// message on ps.<hash> holds one or more records back to back (a batch:
// what the forwarding gateway found waiting at once); the receiving
// gateway knows each record's length from its header and the service's
// element size. The number counts the records that the origin gateway
// sent on the subject, modulo 2^32: a receiving gateway that sees it jump
// counts the records lost on the way (a slow consumer's drops at the
// server or in its own client). It is 0 in requests and responses.
// Requests (rr.<hash>.<server-gw>) and responses (to the request's reply
// inbox) are one record each: for a request, publisher is the client's
// port ID and seq the request ID; for a response, origin is the answering
// gateway and seq the response's number in the stream; a header with
// flagEnd and no payload ends that gateway's stream. On rr.<hash>.<server-
// gw>, a header without payload and reply with flagHint or flagEnd passes
// on the client's disconnect hint or its giving up, for the request that
// origin, publisher and seq name.
const (
	sampleHeaderLen = 48
	// wireVersion is the version of the messages' format; gateways of
	// another one do not share services (announcement.Wire). Version 2
	// added batches of records on ps.<hash>.
	wireVersion = 2
	flagEnd     = 1
	// flagHint, on a request record without payload and reply: the
	// client asked for the end of the stream (SetDisconnectHint). A
	// request record with flagEnd, without payload and reply: the client
	// gave up (closed its pending response, or went away).
	flagHint = 2
	// flagBigEndian, on a record with a payload: its payload and user
	// header are in big-endian order (the sending host's); without it,
	// little-endian. A receiver of the other order converts them field by
	// field (typecodec.Type.SwapBytes). The header itself is always
	// little-endian.
	flagBigEndian = 4
)

type sampleHeader struct {
	flags                  byte // flagEnd: the end of a response stream
	origin, publisher, seq uint64
	userHeaderLen          uint32
	number                 uint32 // the record's number (samples)
	elems                  uint64
}

func putSampleHeader(b []byte, h sampleHeader) {
	copy(b[0:4], "IOX2")
	b[4] = wireVersion
	b[5], b[6], b[7] = h.flags, 0, 0
	le := binary.LittleEndian
	le.PutUint64(b[8:], h.origin)
	le.PutUint64(b[16:], h.publisher)
	le.PutUint64(b[24:], h.seq)
	le.PutUint32(b[32:], h.userHeaderLen)
	le.PutUint32(b[36:], h.number)
	le.PutUint64(b[40:], h.elems)
}

var errBadMessage = errors.New("malformed message")

// nextRecord splits the first record off b; elemSize is the payload
// element size of the local service, which the record's payload length is
// counted in. rest is what follows the record (the next ones of a batch).
// Every length is checked against what is left before it is used, so no
// sum can wrap.
func nextRecord(b []byte, elemSize uint64) (h sampleHeader, userHeader, payload, rest []byte, err error) {
	if len(b) < sampleHeaderLen || string(b[0:4]) != "IOX2" {
		return h, nil, nil, nil, fmt.Errorf("%w: %d bytes without the sample header", errBadMessage, len(b))
	}
	if b[4] != wireVersion {
		return h, nil, nil, nil, fmt.Errorf("%w: sample wire version %d, this gateway speaks %d", errBadMessage, b[4], wireVersion)
	}
	le := binary.LittleEndian
	h = sampleHeader{flags: b[5], origin: le.Uint64(b[8:]), publisher: le.Uint64(b[16:]), seq: le.Uint64(b[24:]),
		userHeaderLen: le.Uint32(b[32:]), number: le.Uint32(b[36:]), elems: le.Uint64(b[40:])}
	rest = b[sampleHeaderLen:]
	if uint64(h.userHeaderLen) > uint64(len(rest)) {
		return h, nil, nil, nil, fmt.Errorf("%w: user header of %d bytes in %d", errBadMessage, h.userHeaderLen, len(rest))
	}
	userHeader, rest = rest[:h.userHeaderLen], rest[h.userHeaderLen:]
	if elemSize == 0 || h.elems > uint64(len(rest))/elemSize {
		return h, nil, nil, nil, fmt.Errorf("%w: %d elements of %d bytes in %d bytes", errBadMessage, h.elems, elemSize, len(rest))
	}
	n := h.elems * elemSize
	return h, userHeader, rest[:n], rest[n:], nil
}

// decodeSample splits a message of exactly one record (a request, a
// response).
func decodeSample(b []byte, elemSize uint64) (h sampleHeader, userHeader, payload []byte, err error) {
	h, userHeader, payload, rest, err := nextRecord(b, elemSize)
	if err == nil && len(rest) != 0 {
		err = fmt.Errorf("%w: %d elements of %d bytes in a payload of %d bytes", errBadMessage, h.elems, elemSize, len(payload)+len(rest))
	}
	return h, userHeader, payload, err
}

// An event on ev.<hash>: event id (u64), count (u64), origin gateway
// (u64), little-endian.
const eventMsgLen = 24

func putEvent(b []byte, id, count, origin uint64) {
	le := binary.LittleEndian
	le.PutUint64(b[0:], id)
	le.PutUint64(b[8:], count)
	le.PutUint64(b[16:], origin)
}

func decodeEvent(b []byte) (id, count, origin uint64, err error) {
	if len(b) != eventMsgLen {
		return 0, 0, 0, fmt.Errorf("%w: event message of %d bytes, want %d", errBadMessage, len(b), eventMsgLen)
	}
	le := binary.LittleEndian
	return le.Uint64(b[0:]), le.Uint64(b[8:]), le.Uint64(b[16:]), nil
}
