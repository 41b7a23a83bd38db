package shm_test

import (
	"testing"

	"github.com/iox2go/iox2go/runtime/shm"
	"github.com/iox2go/iox2go/runtime/shm/shmtest"
)

func TestLocal(t *testing.T) {
	shmtest.Run(t, func(t *testing.T) shm.Provider { return shm.NewLocal() })
}

func TestLocalNamespacesAreSeparate(t *testing.T) {
	a, b := shm.NewLocal(), shm.NewLocal()
	seg, err := a.Create("x", 64)
	if err != nil {
		t.Fatal(err)
	}
	defer seg.Close()
	if _, err := b.Open("x", false); err == nil {
		t.Error("a second Local sees the first one's segment")
	}
}
