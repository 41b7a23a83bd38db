package templates

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/iox2go/iox2go/idl"
	iox2 "github.com/iox2go/iox2go/runtime"
	"github.com/iox2go/iox2go/runtime/iox2test"
)

// TestCLayoutMacros reads every <Type>_LAYOUT macro of the golden C
// headers back as C would (the string literals concatenated) and requires
// its SHA-256 to be the <Type>_LAYOUT_HASH next to it and the text to be
// the layout of the model, which the Go code stores as TypeInfo.Layout.
func TestCLayoutMacros(t *testing.T) {
	def := regexp.MustCompile(`(?m)^#define (\w+)_LAYOUT \\\n((?:\t".*"(?: \\)?\n)+)`)
	hash := regexp.MustCompile(`(?m)^#define (\w+)_LAYOUT_HASH "([0-9a-f]{64})"$`)
	for _, c := range goldenCases(t) {
		src, err := os.ReadFile(c.golden("c"))
		if err != nil {
			t.Fatal(err)
		}
		hashes := map[string]string{}
		for _, m := range hash.FindAllStringSubmatch(string(src), -1) {
			hashes[m[1]] = m[2]
		}
		layouts := map[string]string{}
		for _, st := range c.file.Structs() {
			layouts[cNamed(&st.Named)] = st.Layout
		}
		found := 0
		for _, m := range def.FindAllStringSubmatch(string(src), -1) {
			var text strings.Builder
			for _, line := range strings.Split(strings.TrimSpace(m[2]), "\n") {
				lit := strings.TrimSuffix(strings.TrimSpace(line), ` \`)
				s, err := strconv.Unquote(strings.ReplaceAll(lit, `\?`, "?"))
				if err != nil {
					t.Fatalf("%s: %s_LAYOUT: %s: %v", c.name, m[1], lit, err)
				}
				text.WriteString(s)
			}
			sum := sha256.Sum256([]byte(text.String()))
			if got := hex.EncodeToString(sum[:]); got != hashes[m[1]] {
				t.Errorf("%s: %s_LAYOUT hashes to %s, %s_LAYOUT_HASH is %q", c.name, m[1], got, m[1], hashes[m[1]])
			}
			if text.String() != layouts[m[1]] {
				t.Errorf("%s: %s_LAYOUT is\n%s\nwant\n%s", c.name, m[1], text.String(), layouts[m[1]])
			}
			found++
		}
		if found != len(layouts) || found != len(hashes) {
			t.Errorf("%s: %d _LAYOUT macros, %d structs, %d _LAYOUT_HASH macros", c.name, found, len(layouts), len(hashes))
		}
	}
}

// TestCPrimIdentity creates a slice service of every primitive type with
// the Go runtime and requires the identity it stores to be the one the C
// API passes for a slice of that primitive (iox2gen_<name>_type_info).
func TestCPrimIdentity(t *testing.T) {
	node := iox2test.Node(t, iox2test.Config(t))
	stored := map[idl.Prim]iox2.TypeInfo{
		idl.Boolean: primStored[bool](t, node), idl.Octet: primStored[byte](t, node), idl.Char: primStored[byte](t, node),
		idl.Int8: primStored[int8](t, node), idl.Uint8: primStored[uint8](t, node),
		idl.Int16: primStored[int16](t, node), idl.Uint16: primStored[uint16](t, node),
		idl.Int32: primStored[int32](t, node), idl.Uint32: primStored[uint32](t, node),
		idl.Int64: primStored[int64](t, node), idl.Uint64: primStored[uint64](t, node),
		idl.Float: primStored[float32](t, node), idl.Double: primStored[float64](t, node),
	}
	for p, want := range stored {
		c := cPrimIdentity(p)
		got := iox2.TypeInfo{Name: c.Name, Size: c.Size, Align: c.Size, LayoutHash: c.LayoutHash, Layout: c.Layout}
		if got != want {
			t.Errorf("%s: the C API passes %+v, the Go runtime stores %+v", p, got, want)
		}
	}
}

var primServices int

func primStored[T any](t *testing.T, node *iox2.Node) iox2.TypeInfo {
	t.Helper()
	primServices++
	svc, err := iox2.PublishSubscribeSlice[T](node, "prim/"+strconv.Itoa(primServices)).Create()
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	return svc.StaticConfig().PublishSubscribe.Payload
}
