package runtime

import (
	"github.com/iox2go/iox2go/runtime/internal/protocol"

	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestGarbageGivesClearErrors damages a service's files the way a crash or
// a hostile process could, and checks that opening it fails at once with a
// clear error instead of hanging or crashing.
func TestGarbageGivesClearErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, cfg *Config, hash, uid string)
		want   error
	}{
		{"truncated static config", func(t *testing.T, cfg *Config, hash, uid string) {
			p := cfg.staticPath(hash)
			b, _ := os.ReadFile(p)
			os.WriteFile(p, b[:len(b)/2], 0o600)
		}, ErrServiceCorrupted},
		{"static config of another version", func(t *testing.T, cfg *Config, hash, uid string) {
			p := cfg.staticPath(hash)
			b, _ := os.ReadFile(p)
			os.WriteFile(p, []byte(replaceOnce(string(b), `"version": "`+protocol.VersionString+`"`, `"version": "6"`)), 0o600)
		}, ErrVersionMismatch},
		{"static config without its pattern's section", func(t *testing.T, cfg *Config, hash, uid string) {
			rewriteStatic(t, cfg.staticPath(hash), func(m map[string]any) { delete(m, "publish_subscribe") })
		}, ErrServiceCorrupted},
		{"static config of an unknown pattern", func(t *testing.T, cfg *Config, hash, uid string) {
			rewriteStatic(t, cfg.staticPath(hash), func(m map[string]any) { m["pattern"] = "telepathy" })
		}, ErrServiceCorrupted},
		{"dynamic config with a wrong magic", func(t *testing.T, cfg *Config, hash, uid string) {
			patchShm(t, filepath.Join(cfg.ShmDir, cfg.dynamicName(hash, uid)), 4, 0xdeadbeef)
		}, ErrServiceCorrupted},
		{"dynamic config of another layout version", func(t *testing.T, cfg *Config, hash, uid string) {
			patchShm(t, filepath.Join(cfg.ShmDir, cfg.dynamicName(hash, uid)), 0, 99)
		}, ErrVersionMismatch},
		{"truncated dynamic config", func(t *testing.T, cfg *Config, hash, uid string) {
			if err := os.Truncate(filepath.Join(cfg.ShmDir, cfg.dynamicName(hash, uid)), 1000); err != nil {
				t.Fatal(err)
			}
		}, ErrServiceCorrupted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t)
			owner := testNode(t, cfg)
			svc := openMsg(t, owner, "damaged", nil)
			tc.damage(t, cfg, svc.ps.core.hash, svc.ps.core.static.UID)
			other := testNode(t, cfg)
			start := time.Now()
			_, err := PublishSubscribe[msg](other, "damaged").Open()
			if !errors.Is(err, tc.want) {
				t.Fatalf("Open = %v, want %v", err, tc.want)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Fatalf("Open took %v to fail", d)
			}
			t.Log(err)
		})
	}
}

// rewriteStatic decodes the static config at path as JSON, lets edit
// change it, and writes it back.
func rewriteStatic(t *testing.T, path string, edit func(map[string]any)) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	if b, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func replaceOnce(s, old, new string) string {
	for i := 0; i+len(old) <= len(s); i++ {
		if s[i:i+len(old)] == old {
			return s[:i] + new + s[i+len(old):]
		}
	}
	return s
}

// patchShm overwrites the 32-bit word at off of a segment file.
func patchShm(t *testing.T, path string, off int64, v uint32) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], v)
	if _, err := f.WriteAt(b[:], off); err != nil {
		t.Fatal(err)
	}
}

// TestCreatorKilledHalfwayDoesNotBlockOpeners kills processes that create
// and remove a service in a loop, at random moments, and opens the service
// right after each kill: the open succeeds at once, whatever state the
// creator left.
func TestCreatorKilledHalfwayDoesNotBlockOpeners(t *testing.T) {
	cfg := testConfig(t)
	node := testNode(t, cfg)
	rounds := 10
	if testing.Short() {
		rounds = 3
	}
	for r := 0; r < rounds; r++ {
		cmd, out := startHelper(t, cfg, "crash-creator")
		if !out.Scan() || out.Text() != "ready" {
			t.Fatal("creator did not start")
		}
		time.Sleep(time.Duration(r*1700%15000) * time.Microsecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		start := time.Now()
		svc, err := PublishSubscribe[msg](node, "crash/created").OpenOrCreate()
		if err != nil {
			t.Fatalf("round %d: OpenOrCreate after the creator died: %v", r, err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("round %d: OpenOrCreate took %v", r, d)
		}
		svc.Close()
	}
	node.Close()
	assertNoFiles(t, cfg)
}
