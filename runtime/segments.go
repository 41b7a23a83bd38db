package runtime

import (
	"errors"
	"fmt"

	"github.com/iox2go/iox2go/runtime/internal/protocol"
	"github.com/iox2go/iox2go/runtime/ring"
	"github.com/iox2go/iox2go/runtime/shm"
)

// ChunkHeader precedes every payload in a data segment. The sender (a
// publisher, client or server) writes it before it sends the chunk;
// receivers only read it. See protocol.ChunkHeader.
type ChunkHeader = protocol.ChunkHeader

// readDataLayout copies and validates the geometry of a mapped data
// segment: nothing in it may point outside the mapping. wantElem,
// wantHeader and wantTable are what the reader expects from the static
// config: the element and user header sizes and the request table length.
func readDataLayout(seg shm.Segment, wantElem, wantHeader, wantTable uint64) (protocol.DataLayout, error) {
	l, err := protocol.ReadDataLayout(seg.Bytes(), seg.Name(), wantElem, wantHeader, wantTable)
	if err != nil {
		return l, fmt.Errorf("%w: %v", ErrConnectionCorrupted, err)
	}
	return l, nil
}

// connection is a mapped connection segment.
type connection struct {
	seg        shm.Segment
	hdr        *protocol.ConnHeader
	submission *ring.Queue   // sender -> receiver: chunks; channels[0]
	channels   []*ring.Queue // every submission queue
	completion *ring.Queue   // receiver -> sender: chunks given back
}

func createConnection(p shm.Provider, name string, sender, receiver ID, l protocol.ConnLayout) (*connection, error) {
	if !l.Valid() {
		return nil, fmt.Errorf("iox2: connection %s: invalid geometry %+v", name, l)
	}
	seg, err := p.Create(name, l.Size)
	if err != nil {
		return nil, err
	}
	b := seg.Bytes()
	h := protocol.ConnHeaderOf(b)
	h.Sender, h.Receiver = uint64(sender), uint64(receiver)
	h.SubmissionCap, h.CompletionCap, h.Channels = l.SubCap, l.CompCap, l.Channels
	c := &connection{seg: seg, channels: make([]*ring.Queue, l.Channels)}
	var errs []error
	for ch := range c.channels {
		q, err := ring.NewQueue(l.Sub(b, ch), l.SubCap)
		c.channels[ch] = q
		errs = append(errs, err)
	}
	cq, err := ring.NewQueue(b[l.CompOff:], l.CompCap)
	if err := errors.Join(append(errs, err)...); err != nil {
		seg.Close()
		p.Remove(name)
		return nil, fmt.Errorf("iox2: connection %s: %v", name, err)
	}
	c.submission, c.completion, c.hdr = c.channels[0], cq, h
	// SYNC POINT publish: paired with openConnection's OpenReady.
	shm.Publish(seg, protocol.KindConnection, protocol.Version)
	return c, nil
}

func openConnection(p shm.Provider, name string, sender, receiver ID, l protocol.ConnLayout) (*connection, error) {
	if !l.Valid() {
		return nil, fmt.Errorf("iox2: connection %s: invalid geometry %+v", name, l)
	}
	seg, err := shm.OpenReady(p, name, protocol.KindConnection, protocol.Version, true, 0)
	if err != nil {
		return nil, err
	}
	b := seg.Bytes()
	if len(b) != l.Size {
		seg.Close()
		return nil, fmt.Errorf("%w: connection %s has %d bytes, expected %d", ErrConnectionCorrupted, name, len(b), l.Size)
	}
	h := protocol.ConnHeaderOf(b)
	if h.Sender != uint64(sender) || h.Receiver != uint64(receiver) || h.Channels != l.Channels {
		seg.Close()
		return nil, fmt.Errorf("%w: connection %s joins other ports", ErrConnectionCorrupted, name)
	}
	c := &connection{seg: seg, channels: make([]*ring.Queue, l.Channels)}
	var errs []error
	for ch := range c.channels {
		q, err := ring.AttachQueue(l.Sub(b, ch), l.SubCap)
		c.channels[ch] = q
		errs = append(errs, err)
	}
	cq, err := ring.AttachQueue(b[l.CompOff:], l.CompCap)
	if err := errors.Join(append(errs, err)...); err != nil {
		seg.Close()
		return nil, fmt.Errorf("%w: connection %s: %v", ErrConnectionCorrupted, name, err)
	}
	c.submission, c.completion, c.hdr = c.channels[0], cq, h
	return c, nil
}
