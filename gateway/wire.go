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
	// HeartbeatNS is the sender's heartbeat interval: it is forgotten
	// after 3 of them without an announcement.
	HeartbeatNS int64               `json:"heartbeat_ns"`
	Services    []iox2.StaticConfig `json:"services"`
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

// A sample on ps.<hash> is a fixed header, the user header, the payload
// bytes. The header is little-endian whatever the host: magic "IOX2",
// version 1, 3 reserved bytes, origin gateway (u64), publisher (u64),
// sequence (u64), user header length in bytes (u32), 4 reserved bytes,
// payload length in elements (u64).
const (
	sampleHeaderLen = 48
	wireVersion     = 1
)

type sampleHeader struct {
	origin, publisher, seq uint64
	userHeaderLen          uint32
	elems                  uint64
}

func putSampleHeader(b []byte, h sampleHeader) {
	copy(b[0:4], "IOX2")
	b[4] = wireVersion
	b[5], b[6], b[7] = 0, 0, 0
	le := binary.LittleEndian
	le.PutUint64(b[8:], h.origin)
	le.PutUint64(b[16:], h.publisher)
	le.PutUint64(b[24:], h.seq)
	le.PutUint32(b[32:], h.userHeaderLen)
	le.PutUint32(b[36:], 0)
	le.PutUint64(b[40:], h.elems)
}

var errBadMessage = errors.New("malformed message")

// decodeSample splits a sample message; elemSize is the payload element
// size of the local service, which the payload length must agree with.
func decodeSample(b []byte, elemSize uint64) (h sampleHeader, userHeader, payload []byte, err error) {
	if len(b) < sampleHeaderLen || string(b[0:4]) != "IOX2" {
		return h, nil, nil, fmt.Errorf("%w: %d bytes without the sample header", errBadMessage, len(b))
	}
	if b[4] != wireVersion {
		return h, nil, nil, fmt.Errorf("%w: sample wire version %d, this gateway speaks %d", errBadMessage, b[4], wireVersion)
	}
	le := binary.LittleEndian
	h = sampleHeader{origin: le.Uint64(b[8:]), publisher: le.Uint64(b[16:]), seq: le.Uint64(b[24:]),
		userHeaderLen: le.Uint32(b[32:]), elems: le.Uint64(b[40:])}
	rest := b[sampleHeaderLen:]
	if uint64(h.userHeaderLen) > uint64(len(rest)) {
		return h, nil, nil, fmt.Errorf("%w: user header of %d bytes in %d", errBadMessage, h.userHeaderLen, len(rest))
	}
	userHeader, payload = rest[:h.userHeaderLen], rest[h.userHeaderLen:]
	if elemSize == 0 || h.elems > uint64(len(payload)) || h.elems*elemSize != uint64(len(payload)) {
		return h, nil, nil, fmt.Errorf("%w: %d elements of %d bytes in a payload of %d bytes", errBadMessage, h.elems, elemSize, len(payload))
	}
	return h, userHeader, payload, nil
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
