// Package shmtest is the conformance suite of shm.Provider implementations.
//
// Run checks everything the Provider interface and the publication protocol
// (shm.Publish, shm.OpenReady) promise. It should not produce false
// positives, but it may produce false negatives: a race or an ordering bug
// can go unnoticed in one run. Run it under the race detector and with
// -count=N to make such bugs likely to show.
package shmtest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/iox2go/iox2go/internal/testrun"
	"github.com/iox2go/iox2go/runtime/shm"
)

// Run runs the conformance suite, one parallel subtest per behaviour.
// newProvider is called once per subtest and must return a Provider whose
// namespace the test may use; it may be called concurrently. Every subtest
// uses names that start with a prefix derived from its own name and the
// process id, and removes them when it ends.
func Run(t *testing.T, newProvider func(t *testing.T) shm.Provider) {
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newProvider(t)
			tc.fn(t, &env{p: p, prefix: Prefix(t)})
		})
	}
}

// Prefix returns a name prefix unique to the test t and this process, so
// that tests running concurrently, in one process or several, never share a
// name.
func Prefix(t testing.TB) string {
	h := fnv.New32a()
	h.Write([]byte(t.Name()))
	short := strings.Map(func(r rune) rune {
		if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' {
			return r
		}
		return '_'
	}, t.Name())
	if len(short) > 64 {
		short = short[len(short)-64:]
	}
	return fmt.Sprintf("shmtest_%s%s_%08x_%d_", testrun.Tag(), short, h.Sum32(), os.Getpid())
}

// env is what a subtest gets: the provider and its private prefix.
type env struct {
	p      shm.Provider
	prefix string
	once   sync.Once
}

// name returns the test's name for suffix, and makes sure that every name
// under the prefix is removed when the test ends.
func (e *env) name(t *testing.T, suffix string) string {
	t.Helper()
	e.once.Do(func() {
		t.Cleanup(func() {
			names, err := e.p.List(e.prefix)
			if err != nil {
				t.Errorf("cleanup: %v", err)
			}
			for _, n := range names {
				if err := e.p.Remove(n); err != nil {
					t.Errorf("cleanup: %v", err)
				}
			}
		})
	})
	return e.prefix + suffix
}

func (e *env) create(t *testing.T, suffix string, size int) shm.Segment {
	t.Helper()
	seg, err := e.p.Create(e.name(t, suffix), size)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	t.Cleanup(func() { seg.Close() })
	return seg
}

func (e *env) open(t *testing.T, name string, writable bool) shm.Segment {
	t.Helper()
	seg, err := e.p.Open(name, writable)
	if err != nil {
		t.Fatalf("Open(%q, %v): %v", name, writable, err)
	}
	t.Cleanup(func() { seg.Close() })
	return seg
}

// Kinds and versions the tests publish with.
const (
	kindA, kindB = 7, 8
	version      = 3
	timeout      = 10 * time.Second // a bound on waits that should succeed
)

// payload returns a pointer to the uint64 right after the Header.
func payload(seg shm.Segment) *uint64 {
	return (*uint64)(unsafe.Pointer(&seg.Bytes()[shm.HeaderSize]))
}

// Offsets inside shm.Header that the corruption tests overwrite; package
// shm asserts them.
const (
	readyOffset = 0
	sizeOffset  = 16
)

var tests = []struct {
	name string
	fn   func(t *testing.T, e *env)
}{
	{"Create makes a segment that Open maps with the same size", testCreateOpen},
	{"Create is exclusive", testCreateExclusive},
	{"Concurrent Creates of one name leave exactly one winner", testCreateRace},
	{"Create rejects a size that is not positive", testCreateSize},
	{"A new segment is zero-filled", testZeroFilled},
	{"Segment memory is 8-byte aligned", testAligned},
	{"A large segment can be created and its last byte used", testLarge},
	{"Open of a missing name fails with ErrNotExist", testOpenMissing},
	{"Memory written through one mapping is seen through another", testShared},
	{"Remove deletes the name and fails with ErrNotExist the second time", testRemove},
	{"Remove keeps existing mappings valid", testRemoveKeepsMappings},
	{"A name created again after Remove is a new zero-filled segment", testRecreate},
	{"List returns the names with the prefix, sorted", testList},
	{"A read-only open is not writable", testReadOnly},
	{"Close is idempotent and Bytes is nil afterwards", testClose},
	{"Invalid names are rejected by every operation", testInvalidNames},
	{"A name of 255 bytes is valid", testLongName},
	{"Errors are *shm.Error values with operation and name", testErrorType},
	{"Publish fills the header", testHeader},
	{"Publish of a read-only segment panics", testPublishReadOnly},
	{"OpenReady returns a published segment with its payload", testOpenReady},
	{"OpenReady waits for a Publish that happens later in another goroutine", testOpenReadyWaits},
	{"Concurrent OpenReady calls all see the payload written before Publish", testOpenReadyConcurrent},
	{"OpenReady times out with ErrNotInitialized when never published", testOpenReadyTimeout},
	{"OpenReady of a missing name fails at once with ErrNotExist", testOpenReadyMissing},
	{"OpenReady reports another version as ErrVersionMismatch showing both", testVersionMismatch},
	{"OpenReady reports another kind as ErrWrongKind", testWrongKind},
	{"OpenReady reports a bad magic as ErrCorrupt", testBadMagic},
	{"OpenReady reports a header size unlike the mapping as ErrCorrupt", testSizeMismatch},
	{"OpenReady reports a segment smaller than a header as ErrCorrupt", testTooSmall},
}

func testCreateOpen(t *testing.T, e *env) {
	seg := e.create(t, "a", 4096)
	if got := len(seg.Bytes()); got != 4096 {
		t.Errorf("len(Bytes()) = %d after Create, want 4096", got)
	}
	if !seg.Writable() {
		t.Error("Writable() = false after Create, want true")
	}
	if seg.Name() != e.prefix+"a" {
		t.Errorf("Name() = %q, want %q", seg.Name(), e.prefix+"a")
	}
	for _, w := range []bool{false, true} {
		o := e.open(t, seg.Name(), w)
		if got := len(o.Bytes()); got != 4096 {
			t.Errorf("len(Bytes()) = %d after Open(writable=%v), want 4096", got, w)
		}
		if o.Writable() != w {
			t.Errorf("Writable() = %v after Open(writable=%v)", o.Writable(), w)
		}
		if o.Name() != seg.Name() {
			t.Errorf("Name() = %q after Open, want %q", o.Name(), seg.Name())
		}
	}
}

func testCreateExclusive(t *testing.T, e *env) {
	seg := e.create(t, "a", 64)
	_, err := e.p.Create(seg.Name(), 64)
	if !errors.Is(err, shm.ErrExist) {
		t.Fatalf("second Create: %v, want ErrExist", err)
	}
}

func testCreateRace(t *testing.T, e *env) {
	name := e.name(t, "a")
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			seg, err := e.p.Create(name, 4096)
			if err == nil {
				seg.Close()
			}
			errs[i] = err
		})
	}
	close(start)
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, shm.ErrExist):
			t.Errorf("Create: %v, want nil or ErrExist", err)
		}
	}
	if wins != 1 {
		t.Errorf("%d Creates succeeded, want 1", wins)
	}
}

func testCreateSize(t *testing.T, e *env) {
	for _, size := range []int{0, -1} {
		_, err := e.p.Create(e.name(t, "a"), size)
		if !errors.Is(err, shm.ErrInvalidSize) {
			t.Errorf("Create(size %d): %v, want ErrInvalidSize", size, err)
		}
	}
	if _, err := e.p.Open(e.name(t, "a"), false); !errors.Is(err, shm.ErrNotExist) {
		t.Errorf("Open after failed Create: %v, want ErrNotExist", err)
	}
}

func testZeroFilled(t *testing.T, e *env) {
	for _, size := range []int{1, 7, 4096, 1<<20 + 3} {
		seg := e.create(t, fmt.Sprint(size), size)
		if i := slices.IndexFunc(seg.Bytes(), func(b byte) bool { return b != 0 }); i >= 0 {
			t.Errorf("size %d: byte %d is %#x, want 0", size, i, seg.Bytes()[i])
		}
		if got := len(seg.Bytes()); got != size {
			t.Errorf("len(Bytes()) = %d, want %d", got, size)
		}
	}
}

func testAligned(t *testing.T, e *env) {
	for _, size := range []int{1, 9, 200} {
		seg := e.create(t, fmt.Sprint(size), size)
		if a := uintptr(unsafe.Pointer(unsafe.SliceData(seg.Bytes()))) % 8; a != 0 {
			t.Errorf("size %d: Bytes() is at %d mod 8, want 0", size, a)
		}
		o := e.open(t, seg.Name(), false)
		if a := uintptr(unsafe.Pointer(unsafe.SliceData(o.Bytes()))) % 8; a != 0 {
			t.Errorf("size %d: Bytes() of Open is at %d mod 8, want 0", size, a)
		}
	}
}

func testLarge(t *testing.T, e *env) {
	const size = 64 << 20
	seg := e.create(t, "a", size)
	seg.Bytes()[size-1] = 0x5a
	o := e.open(t, seg.Name(), false)
	if got := o.Bytes()[size-1]; got != 0x5a {
		t.Errorf("last byte through Open = %#x, want 0x5a", got)
	}
}

func testOpenMissing(t *testing.T, e *env) {
	for _, w := range []bool{false, true} {
		_, err := e.p.Open(e.name(t, "missing"), w)
		if !errors.Is(err, shm.ErrNotExist) {
			t.Errorf("Open(writable=%v): %v, want ErrNotExist", w, err)
		}
	}
}

func testShared(t *testing.T, e *env) {
	seg := e.create(t, "a", 8192)
	a := e.open(t, seg.Name(), true)
	b := e.open(t, seg.Name(), true)
	r := e.open(t, seg.Name(), false)
	seg.Bytes()[1] = 1
	a.Bytes()[4096] = 2
	b.Bytes()[8191] = 3
	for i, s := range []shm.Segment{seg, a, b, r} {
		got := []byte{s.Bytes()[1], s.Bytes()[4096], s.Bytes()[8191]}
		if !slices.Equal(got, []byte{1, 2, 3}) {
			t.Errorf("mapping %d sees %v, want [1 2 3]", i, got)
		}
	}
}

func testRemove(t *testing.T, e *env) {
	seg := e.create(t, "a", 64)
	if err := e.p.Remove(seg.Name()); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if _, err := e.p.Open(seg.Name(), false); !errors.Is(err, shm.ErrNotExist) {
		t.Errorf("Open after Remove: %v, want ErrNotExist", err)
	}
	if names, _ := e.p.List(e.prefix); len(names) != 0 {
		t.Errorf("List after Remove = %q, want none", names)
	}
	if err := e.p.Remove(seg.Name()); !errors.Is(err, shm.ErrNotExist) {
		t.Errorf("second Remove: %v, want ErrNotExist", err)
	}
}

func testRemoveKeepsMappings(t *testing.T, e *env) {
	seg := e.create(t, "a", 4096)
	o := e.open(t, seg.Name(), true)
	seg.Bytes()[10] = 42
	if err := e.p.Remove(seg.Name()); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	// Both mappings still work, and still share their memory.
	if got := o.Bytes()[10]; got != 42 {
		t.Errorf("after Remove, the open mapping reads %d, want 42", got)
	}
	o.Bytes()[11] = 43
	if got := seg.Bytes()[11]; got != 43 {
		t.Errorf("after Remove, the creator's mapping reads %d, want 43", got)
	}
}

func testRecreate(t *testing.T, e *env) {
	old := e.create(t, "a", 4096)
	old.Bytes()[0] = 1
	if err := e.p.Remove(old.Name()); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	seg := e.create(t, "a", 4096)
	if got := seg.Bytes()[0]; got != 0 {
		t.Errorf("the new segment reads %d, want 0", got)
	}
	old.Bytes()[1] = 1
	if got := seg.Bytes()[1]; got != 0 {
		t.Errorf("a write to the removed segment shows in the new one")
	}
}

func testList(t *testing.T, e *env) {
	for _, s := range []string{"b", "c", "a", "ab"} {
		e.create(t, s, 64)
	}
	e.create(t, "zz", 64)
	got, err := e.p.List(e.prefix)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{e.prefix + "a", e.prefix + "ab", e.prefix + "b", e.prefix + "c", e.prefix + "zz"}
	if !slices.Equal(got, want) {
		t.Errorf("List(prefix) = %q, want %q", got, want)
	}
	got, err = e.p.List(e.prefix + "a")
	if want := want[:2]; err != nil || !slices.Equal(got, want) {
		t.Errorf("List(prefix+a) = %q, %v, want %q", got, err, want)
	}
	got, err = e.p.List(e.prefix + "x")
	if err != nil || len(got) != 0 {
		t.Errorf("List(prefix+x) = %q, %v, want none", got, err)
	}
}

func testReadOnly(t *testing.T, e *env) {
	seg := e.create(t, "a", 4096)
	seg.Bytes()[0] = 7
	r := e.open(t, seg.Name(), false)
	if r.Writable() {
		t.Fatal("Writable() = true for a read-only Open")
	}
	if got := r.Bytes()[0]; got != 7 {
		t.Errorf("read-only mapping reads %d, want 7", got)
	}
	if !shm.ProtectsReadOnly(e.p) {
		t.Skip("this provider does not protect read-only segments from writes")
	}
	if !faults(func() { r.Bytes()[0] = 8 }) {
		t.Error("a write through a read-only mapping did not fault")
	}
	if got := seg.Bytes()[0]; got != 7 {
		t.Errorf("after the write through the read-only mapping, the segment holds %d, want 7", got)
	}
}

// faults reports whether f faulted on a memory access.
func faults(f func()) (faulted bool) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			_, faulted = r.(interface{ Addr() uintptr })
			if !faulted {
				panic(r)
			}
		}
	}()
	f()
	return false
}

func testClose(t *testing.T, e *env) {
	seg, err := e.p.Create(e.name(t, "a"), 64)
	if err != nil {
		t.Fatal(err)
	}
	o, err := e.p.Open(seg.Name(), false)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []shm.Segment{seg, o} {
		for i := range 3 {
			if err := s.Close(); err != nil {
				t.Errorf("Close #%d: %v", i+1, err)
			}
		}
		if s.Bytes() != nil {
			t.Errorf("Bytes() = %d bytes after Close, want nil", len(s.Bytes()))
		}
	}
	// Close does not remove the name.
	if names, _ := e.p.List(e.prefix); len(names) != 1 {
		t.Errorf("List after Close = %q, want the segment", names)
	}
}

func testInvalidNames(t *testing.T, e *env) {
	e.name(t, "") // register the cleanup, in case a bad name gets through
	for _, name := range []string{"", ".", "..", "a/b", "/a", "a/", "a\x00b", strings.Repeat("n", 256)} {
		check := func(op string, err error) {
			t.Helper()
			if !errors.Is(err, shm.ErrInvalidName) {
				t.Errorf("%s(%q): %v, want ErrInvalidName", op, name, err)
			}
		}
		seg, err := e.p.Create(name, 64)
		if err == nil {
			seg.Close()
		}
		check("Create", err)
		_, err = e.p.Open(name, false)
		check("Open", err)
		_, err = e.p.Open(name, true)
		check("Open", err)
		check("Remove", e.p.Remove(name))
		_, err = shm.OpenReady(e.p, name, kindA, version, false, 0)
		check("OpenReady", err)
		if shm.ValidateName(name) == nil {
			t.Errorf("ValidateName(%q) = nil, want an error", name)
		}
	}
}

func testLongName(t *testing.T, e *env) {
	name := e.name(t, "")
	name += strings.Repeat("n", shm.MaxNameLen-len(name))
	seg, err := e.p.Create(name, 64)
	if err != nil {
		t.Fatalf("Create of a %d-byte name: %v", len(name), err)
	}
	seg.Close()
	o := e.open(t, name, false)
	if o.Name() != name {
		t.Errorf("Name() = %q, want %q", o.Name(), name)
	}
}

func testErrorType(t *testing.T, e *env) {
	seg := e.create(t, "a", 64)
	cases := []struct {
		op, name string
		err      error
	}{
		{"create", seg.Name(), func() error { _, err := e.p.Create(seg.Name(), 64); return err }()},
		{"open", e.prefix + "missing", func() error { _, err := e.p.Open(e.prefix+"missing", false); return err }()},
		{"remove", e.prefix + "missing", e.p.Remove(e.prefix + "missing")},
	}
	for _, c := range cases {
		var se *shm.Error
		if !errors.As(c.err, &se) {
			t.Errorf("%s: error %T (%v) is not a *shm.Error", c.op, c.err, c.err)
			continue
		}
		if se.Op != c.op || se.Name != c.name {
			t.Errorf("error has Op %q, Name %q, want %q, %q", se.Op, se.Name, c.op, c.name)
		}
		if se.Error() == "" || se.Unwrap() == nil {
			t.Errorf("%s: empty Error() or nil Unwrap()", c.op)
		}
	}
}

func testHeader(t *testing.T, e *env) {
	seg := e.create(t, "a", 1000)
	h := shm.HeaderOf(seg)
	if h.Ready() != 0 {
		t.Fatalf("Ready() = %#x before Publish, want 0", h.Ready())
	}
	shm.Init(seg, kindB)
	if h.Ready() != 0 || h.Kind() != kindB || h.Size() != 1000 {
		t.Errorf("after Init: Ready %#x, Kind %d, Size %d; want 0, %d, 1000", h.Ready(), h.Kind(), h.Size(), kindB)
	}
	before := time.Now()
	shm.Publish(seg, kindA, version)
	if want := uint64(shm.Magic)<<32 | version; h.Ready() != want {
		t.Errorf("Ready() = %#x, want %#x", h.Ready(), want)
	}
	if h.Kind() != kindA || h.Size() != 1000 {
		t.Errorf("Kind %d, Size %d; want %d, 1000", h.Kind(), h.Size(), kindA)
	}
	if h.CreatorPID() != os.Getpid() {
		t.Errorf("CreatorPID() = %d, want %d", h.CreatorPID(), os.Getpid())
	}
	if c := h.Created(); c.After(before) || before.Sub(c) > time.Minute {
		t.Errorf("Created() = %v, want shortly before %v", c, before)
	}
	o := e.open(t, seg.Name(), false)
	if oh := shm.HeaderOf(o); oh.Ready() != h.Ready() || oh.Kind() != kindA {
		t.Errorf("the header through Open differs")
	}
}

func testPublishReadOnly(t *testing.T, e *env) {
	seg := e.create(t, "a", 4096)
	r := e.open(t, seg.Name(), false)
	defer func() {
		if recover() == nil {
			t.Error("Publish of a read-only segment did not panic")
		}
		if shm.HeaderOf(seg).Ready() != 0 {
			t.Error("the failed Publish published the segment")
		}
	}()
	shm.Publish(r, kindA, version)
}

func testOpenReady(t *testing.T, e *env) {
	seg := e.create(t, "a", 4096)
	*payload(seg) = 0xfeed
	shm.Publish(seg, kindA, version)
	for _, w := range []bool{false, true} {
		o, err := shm.OpenReady(e.p, seg.Name(), kindA, version, w, 0)
		if err != nil {
			t.Fatalf("OpenReady(writable=%v, timeout 0): %v", w, err)
		}
		if o.Writable() != w {
			t.Errorf("Writable() = %v, want %v", o.Writable(), w)
		}
		if got := *payload(o); got != 0xfeed {
			t.Errorf("payload = %#x, want 0xfeed", got)
		}
		o.Close()
	}
}

func testOpenReadyWaits(t *testing.T, e *env) {
	seg := e.create(t, "a", 4096)
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(30 * time.Millisecond)
		*payload(seg) = 0xbeef // a plain write, published by Publish
		shm.Publish(seg, kindA, version)
	}()
	start := time.Now()
	o, err := shm.OpenReady(e.p, seg.Name(), kindA, version, false, timeout)
	<-done
	if err != nil {
		t.Fatalf("OpenReady: %v", err)
	}
	defer o.Close()
	if d := time.Since(start); d < 20*time.Millisecond {
		t.Errorf("OpenReady returned after %v, before the Publish", d)
	}
	if got := *payload(o); got != 0xbeef {
		t.Errorf("payload = %#x, want 0xbeef", got)
	}
}

func testOpenReadyConcurrent(t *testing.T, e *env) {
	seg := e.create(t, "a", 1<<16)
	const n = 8
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			o, err := shm.OpenReady(e.p, seg.Name(), kindA, version, false, timeout)
			if err != nil {
				t.Errorf("OpenReady: %v", err)
				return
			}
			defer o.Close()
			b := o.Bytes()[shm.HeaderSize:]
			for i := 0; i < len(b); i += 997 {
				if b[i] != byte(i) {
					t.Errorf("payload byte %d = %d, want %d", i, b[i], byte(i))
					return
				}
			}
		})
	}
	time.Sleep(5 * time.Millisecond)
	b := seg.Bytes()[shm.HeaderSize:]
	for i := range b {
		b[i] = byte(i)
	}
	shm.Publish(seg, kindA, version)
	wg.Wait()
}

func testOpenReadyTimeout(t *testing.T, e *env) {
	seg := e.create(t, "a", 4096)
	shm.Init(seg, kindA) // filled, never published
	const wait = 50 * time.Millisecond
	start := time.Now()
	_, err := shm.OpenReady(e.p, seg.Name(), kindA, version, false, wait)
	d := time.Since(start)
	if !errors.Is(err, shm.ErrNotInitialized) {
		t.Fatalf("OpenReady: %v, want ErrNotInitialized", err)
	}
	if d < wait || d > wait+5*time.Second {
		t.Errorf("OpenReady gave up after %v, want about %v", d, wait)
	}
	if _, err := shm.OpenReady(e.p, seg.Name(), kindA, version, false, 0); !errors.Is(err, shm.ErrNotInitialized) {
		t.Errorf("OpenReady with timeout 0: %v, want ErrNotInitialized", err)
	}
}

func testOpenReadyMissing(t *testing.T, e *env) {
	start := time.Now()
	_, err := shm.OpenReady(e.p, e.name(t, "missing"), kindA, version, false, timeout)
	if !errors.Is(err, shm.ErrNotExist) {
		t.Fatalf("OpenReady: %v, want ErrNotExist", err)
	}
	if d := time.Since(start); d > timeout/2 {
		t.Errorf("OpenReady waited %v for a missing segment", d)
	}
}

func testVersionMismatch(t *testing.T, e *env) {
	seg := e.create(t, "a", 4096)
	shm.Publish(seg, kindA, 41)
	_, err := shm.OpenReady(e.p, seg.Name(), kindA, 42, false, timeout)
	if !errors.Is(err, shm.ErrVersionMismatch) {
		t.Fatalf("OpenReady: %v, want ErrVersionMismatch", err)
	}
	// The message is for people: it must show both versions.
	if msg := err.Error(); !strings.Contains(msg, "41") || !strings.Contains(msg, "42") {
		t.Errorf("the message %q does not show both versions", msg)
	}
}

func testWrongKind(t *testing.T, e *env) {
	seg := e.create(t, "a", 4096)
	shm.Publish(seg, kindB, version)
	_, err := shm.OpenReady(e.p, seg.Name(), kindA, version, false, timeout)
	if !errors.Is(err, shm.ErrWrongKind) {
		t.Fatalf("OpenReady: %v, want ErrWrongKind", err)
	}
}

func testBadMagic(t *testing.T, e *env) {
	seg := e.create(t, "a", 4096)
	shm.Publish(seg, kindA, version)
	binary.NativeEndian.PutUint64(seg.Bytes()[readyOffset:], uint64(0xdeadbeef)<<32|version)
	_, err := shm.OpenReady(e.p, seg.Name(), kindA, version, false, timeout)
	if !errors.Is(err, shm.ErrCorrupt) {
		t.Fatalf("OpenReady: %v, want ErrCorrupt", err)
	}
}

func testSizeMismatch(t *testing.T, e *env) {
	seg := e.create(t, "a", 4096)
	shm.Publish(seg, kindA, version)
	binary.NativeEndian.PutUint64(seg.Bytes()[sizeOffset:], 8192)
	_, err := shm.OpenReady(e.p, seg.Name(), kindA, version, false, timeout)
	if !errors.Is(err, shm.ErrCorrupt) {
		t.Fatalf("OpenReady: %v, want ErrCorrupt", err)
	}
}

func testTooSmall(t *testing.T, e *env) {
	seg := e.create(t, "a", shm.HeaderSize-1)
	binary.NativeEndian.PutUint64(seg.Bytes()[readyOffset:], uint64(shm.Magic)<<32|version)
	_, err := shm.OpenReady(e.p, seg.Name(), kindA, version, false, timeout)
	if !errors.Is(err, shm.ErrCorrupt) {
		t.Fatalf("OpenReady: %v, want ErrCorrupt", err)
	}
}
