package protocol

import (
	"math/rand/v2"
	"testing"
)

// TestDecodeMatchesDivision checks Decode, which divides by a shift or a
// multiplication, against the definition with divisions, for valid and
// hostile values and strides that are and are not powers of two.
func TestDecodeMatchesDivision(t *testing.T) {
	ref := func(l *DataLayout, v uint64) (uint32, bool) {
		if v&0xff != 0 || v>>8 < l.ChunksOff {
			return 0, false
		}
		rel := v>>8 - l.ChunksOff
		if rel%l.Stride != 0 || rel/l.Stride >= l.NumChunks {
			return 0, false
		}
		return uint32(rel / l.Stride), true
	}
	rng := rand.New(rand.NewPCG(1, 2))
	strides := []uint64{8, 64, 128, 192, 4<<20 + 64, 1 << 30, 3 << 33, 1<<40 + 8}
	for range 200 {
		strides = append(strides, 8*(1+rng.Uint64N(1<<(4+rng.IntN(36)))))
	}
	for _, stride := range strides {
		l := DataLayout{Stride: stride, NumChunks: 1 + rng.Uint64N(1<<24), ChunksOff: 128 * rng.Uint64N(64)}
		l.derive()
		check := func(v uint64) {
			gi, gok := l.Decode(v)
			wi, wok := ref(&l, v)
			if gi != wi || gok != wok {
				t.Fatalf("stride %d, chunks %d, off %d: decode(%#x) = %d, %v; want %d, %v", l.Stride, l.NumChunks, l.ChunksOff, v, gi, gok, wi, wok)
			}
		}
		for _, i := range []uint64{0, 1, l.NumChunks - 1, l.NumChunks, l.NumChunks + 1, rng.Uint64N(l.NumChunks)} {
			v := (l.ChunksOff + i*l.Stride) << 8
			check(v)
			check(v + 8<<8)
			check(v - 8<<8)
			check(v + 1)
		}
		for range 100 {
			check(rng.Uint64() &^ 0xff)
			check(rng.Uint64())
		}
		check(^uint64(0) &^ 0xff)
	}
}
