package reqres

import (
	"testing"

	"github.com/iox2go/iox2go/examples/gen/internal/gentest"
)

// TestGeneratedUpToDate fails when the committed generated files differ
// from what iox2gen generates from the IDL now (make check-generated).
func TestGeneratedUpToDate(t *testing.T) {
	gentest.CheckUpToDate(t)
}
