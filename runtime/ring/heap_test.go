package ring_test

import (
	"testing"

	"github.com/iox2go/iox2go/runtime/ring"
	"github.com/iox2go/iox2go/runtime/ring/ringtest"
)

// heapMemory is the in-process memory: one heap slice serves both views.
func heapMemory(t *testing.T, size int) (creator, opener []byte) {
	m := ring.NewHeapMemory(size)
	return m, m
}

func TestHeapMemory(t *testing.T) { ringtest.Run(t, heapMemory) }
